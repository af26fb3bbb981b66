"""The confusion figure that fold and summary runs carry: counts and row rates in every cell, as papers draw it."""

import numpy as np

from mer_lightning.reports import confusion_figure


def test_every_cell_shows_its_count_and_the_share_of_its_true_class():
    matrix = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    figure = confusion_figure(matrix, ["negative", "positive", "surprise"], "pooled confusion")
    axes = figure.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert cells[(0, 0)] == "8\n80.0%" and cells[(0, 1)] == "2\n20.0%"
    assert cells[(1, 0)] == "1\n25.0%" and cells[(1, 1)] == "3\n75.0%"
    assert cells[(2, 2)] == "0\n0.0%"  # a class with no clip: no rate to divide by, shown as nothing predicted
    assert len(cells) == 9 and axes.get_title() == "pooled confusion"
    assert [t.get_text() for t in axes.get_yticklabels()] == ["negative", "positive", "surprise"]
