"""Task ids and the task embedding's effect on G."""

from __future__ import annotations

import pytest
import torch

from engine.genprop import Task
from engine.tasks import TASK_NAMES
from tests.test_genprop_common import make_inputs, make_model


def test_task_values_and_order_are_stable() -> None:
    assert TASK_NAMES == ("none", "copy_paste", "mask_and_fill", "color_fill")
    assert Task.parse("color_fill") is Task.COLOR_FILL and Task.COLOR_FILL.index == 3
    with pytest.raises(ValueError, match="'copy_paste'"):
        Task.parse("paste")


def test_task_ids_accept_enum_names_lists_and_tensors() -> None:
    table = make_model().heads.task_embedding
    assert table.task_ids(Task.COPY_PASTE, 2).tolist() == [1, 1]
    assert table.task_ids(["none", Task.COLOR_FILL], 2).tolist() == [0, 3]
    assert table.task_ids(torch.tensor([2]), 3).tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="3 task ids for a batch of 2"):
        table.task_ids([Task.NONE] * 3, 2)


def test_trained_task_vector_changes_output_only_for_its_task() -> None:
    model = make_model()
    with torch.no_grad():
        model.heads.task_embedding.embedding.weight[Task.COLOR_FILL.index].normal_()
        inputs = make_inputs(batch=2)
        mixed = model(**inputs, task=[Task.NONE, Task.COLOR_FILL]).sample
        none = model(**inputs, task=Task.NONE).sample
    torch.testing.assert_close(mixed[0], none[0], rtol=0, atol=1e-6)
    assert (mixed[1] - none[1]).abs().max() > 1e-3
