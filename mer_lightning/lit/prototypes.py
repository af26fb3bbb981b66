"""Prototypical meta-learning: a net learns an embedding from episodes, and classifies against class prototypes.

Each training batch is an episode (`samplers.EpisodicBatchSampler`: support items of each class, then query items of
each class). The episode's prototypes are the mean embeddings of its support items; the loss is the cross-entropy of
the queries' class scores <f(x), w_c>. Whenever the net predicts (validation, the end of training, and so every test),
its prototypes are those of the training clips, kept in the net (`models.prototypes.PrototypicalNet`).
"""

from __future__ import annotations

import logging

import torch
from torch.nn import functional as F

from mer_lightning.lit.classify import ClassificationTask
from mer_lightning.models.prototypes import class_prototypes, prototype_scores

log = logging.getLogger(__name__)


def split_episode(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(support positions, query positions, the episode's classes in order) of a batch laid out as an episode: K
    items of each of N >= 2 classes in turn, then Q >= 1 items of each in the same order. K is read as the length of
    the first class's run; anything else is refused."""
    n = len(labels)
    classes = torch.unique(labels)
    shots = int(torch.nonzero(labels != labels[0])[0]) if len(classes) > 1 else n
    ways = len(classes)
    order = labels[: ways * shots : shots]
    queries = n // ways - shots if n % ways == 0 else 0
    expected = torch.cat([order.repeat_interleave(shots), order.repeat_interleave(max(queries, 0))])
    if ways < 2 or queries < 1 or len(expected) != n or not torch.equal(expected, labels):
        raise ValueError(
            "PrototypeTask: a training batch is not an episode (support items of each class in turn, then query "
            f"items of each in the same order; got labels {labels.tolist()}): set datamodule.batch_sampler to a "
            "mer_lightning.samplers.EpisodicBatchSampler"
        )
    return torch.arange(ways * shots), torch.arange(ways * shots, n), order


class PrototypeTask(ClassificationTask):
    """Meta-trains a `PrototypicalNet` on episodes (see the module's note); predicts and tests as
    `ClassificationTask` does, with the class probabilities p(y = c | x) = softmax of <f(x), w_c> over the training
    clips' prototypes w_c."""

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        support, query, classes = split_episode(batch["label"])
        embeddings = self.net.embed(*(batch[key] for key in self.input_keys))
        # Each label as its class's position in the episode.
        targets = (batch["label"][:, None] == classes[None]).int().argmax(1)
        prototypes = class_prototypes(embeddings[support], targets[support], len(classes))
        loss = F.cross_entropy(prototype_scores(embeddings[query], prototypes), targets[query])
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(query))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.set_prototypes()

    def on_train_end(self) -> None:
        self.set_prototypes()

    @torch.no_grad()
    def set_prototypes(self) -> None:
        """The net's prototypes from every training item of the stage (never augmented), embedded in eval mode."""
        training = self.training
        self.eval()
        embeddings, labels = [], []
        for batch in self.trainer.datamodule.eval_loader("train"):
            embeddings.append(self.net.embed(*(batch[key].to(self.device) for key in self.input_keys)))
            labels.append(batch["label"].to(self.device))
        labels = torch.cat(labels)
        missing = sorted(set(range(self.num_classes)) - set(labels.tolist()))
        if missing:
            log.warning(
                "no training clip of classes %s: their prototypes are zero", [self.class_names[c] for c in missing]
            )
        self.net.prototypes.copy_(class_prototypes(torch.cat(embeddings), labels, self.num_classes))
        self.train(training)
