"""What the staff hand out: the student release, the Gradescope bundle and the nbgrader and Otter exports."""
