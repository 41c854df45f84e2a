"""Known mistakes in train.py: the training loop and the evaluation."""

from autograder.quality.variants import Bug

BUGS = (
    Bug(
        id="train_ignores_amp_dtype",
        file="train.py",
        function="train_one_epoch",
        hint="amp_dtype is ignored: the forward pass runs in full precision even when a 16-bit dtype is asked "
        "for, so a GPU run is neither faster nor lighter. When amp_dtype is given, the model's forward pass "
        "and the loss must run inside torch.autocast for the device's type with that dtype.",
        find="        with _autocast(device, amp_dtype):\n            loss = F.cross_entropy(model(x), y)\n",
        replace="        loss = F.cross_entropy(model(x), y)\n",
    ),
    Bug(
        id="train_gradients_never_cleared",
        file="train.py",
        function="train_one_epoch",
        hint="The gradients are never cleared: backward() adds to .grad, so every step uses the sum of the "
        "gradients of all batches so far. Clear them once per batch, before the backward pass.",
        find="        optimizer.zero_grad(set_to_none=True)\n",
        replace="",
    ),
    Bug(
        id="train_scheduler_never_stepped",
        file="train.py",
        function="train_one_epoch",
        hint="The learning-rate scheduler is never stepped, so the learning rate stays at its first value "
        "(one-cycle starts at a tenth of its peak). Step it after every optimizer step when one is given.",
        find="        if scheduler is not None:\n            scheduler.step()\n",
        replace="",
    ),
    Bug(
        id="train_grad_scaler_ignored",
        file="train.py",
        function="train_one_epoch",
        hint="The gradient scaler is ignored: with float16 small gradients underflow to zero unless the loss "
        "is scaled before backward and the step goes through the scaler, which unscales the gradients, skips "
        "steps with overflows and adapts the scale.",
        find="""        if scaler_or_none is not None:
            scaler_or_none.scale(loss).backward()
            scaler_or_none.step(optimizer)
            scaler_or_none.update()
        else:
            loss.backward()
            optimizer.step()
""",
        replace="""        loss.backward()
        optimizer.step()
""",
    ),
    Bug(
        id="train_step_before_backward",
        file="train.py",
        function="train_one_epoch",
        hint="The optimizer steps before the backward pass: each step then uses the previous batch's gradients "
        "(none at all on the first batch). Per batch: clear the gradients, backward, then step.",
        find="            loss.backward()\n            optimizer.step()\n",
        replace="            optimizer.step()\n            loss.backward()\n",
    ),
    Bug(
        id="train_loss_not_weighted_by_batch_size",
        file="train.py",
        function="train_one_epoch",
        hint="The returned loss adds up the batch means and divides by the number of images: a mean loss over "
        "the epoch weights each batch's mean by its number of images before dividing by the total.",
        find="        total_loss += loss.detach().float() * y.shape[0]\n",
        replace="        total_loss += loss.detach().float()\n",
    ),
    Bug(
        id="evaluate_in_training_mode",
        file="train.py",
        function="evaluate",
        hint="evaluate leaves the model in training mode: batch normalization then normalizes with the "
        "statistics of each test batch (and updates its running averages), and dropout stays on. Switch the "
        "model to evaluation mode before the loop.",
        find="    model.eval()\n",
        replace="",
    ),
    Bug(
        id="evaluate_mean_of_batch_means",
        file="train.py",
        function="evaluate",
        hint="The loss is the mean of the batch means, which gives a smaller last batch as much weight as a "
        "full one. Add up the loss of every image and divide by the number of images.",
        find="""    correct = torch.zeros((), device=device, dtype=torch.long)
    count = 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            logits = model(x)
        # Sum, not mean, per batch: a smaller last batch must not weigh as much as a full one.
        total_loss += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
        count += y.shape[0]
    if count == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return float(total_loss) / count, float(correct) / count
""",
        replace="""    correct = torch.zeros((), device=device, dtype=torch.long)
    count = batches = 0
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        with _autocast(device, amp_dtype):
            logits = model(x)
        total_loss += F.cross_entropy(logits.float(), y)
        correct += (logits.argmax(dim=1) == y).sum()
        count += y.shape[0]
        batches += 1
    if count == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return float(total_loss) / batches, float(correct) / count
""",
    ),
    Bug(
        id="evaluate_accuracy_of_the_last_batch",
        file="train.py",
        function="evaluate",
        hint="The accuracy counts the correct predictions of the last batch only: the count is reset inside "
        "the loop instead of accumulated over every batch.",
        find="        correct += (logits.argmax(dim=1) == y).sum()\n",
        replace="        correct = (logits.argmax(dim=1) == y).sum()\n",
    ),
    Bug(
        id="evaluate_accuracy_in_percent",
        file="train.py",
        function="evaluate",
        hint="evaluate returns the accuracy in percent: it must be a fraction in [0, 1] (the driver and the "
        "grader multiply by 100 themselves when they print it).",
        find="    return float(total_loss) / count, float(correct) / count\n",
        replace="    return float(total_loss) / count, 100 * float(correct) / count\n",
    ),
)
