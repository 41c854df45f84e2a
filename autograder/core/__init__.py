"""What a student release ships: everything `python -m autograder check` and the public tests need."""
