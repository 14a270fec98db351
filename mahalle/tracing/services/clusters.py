"""Cluster upkeep: the connected components of the transmission graph, kept by union by size.

Every node row (ChainCase, Contact, Event, EventAttendance, TransmissionLink) stores its cluster's id; an edge
between two clusters relabels every node of the smaller ones to the largest (see tracing.models). Private
helpers of the services in this package: they run inside the calling service's transaction and its audit.
"""

import uuid

from django.db.models import Count

from mahalle.cases.models import Case

from ..models import ChainCase, Cluster, Contact, Event, EventAttendance, TransmissionLink

NODE_MODELS = (ChainCase, Contact, Event, EventAttendance, TransmissionLink)
CHUNK = 2000


def _cluster_new() -> uuid.UUID:
    return Cluster.objects.create().pk


def _clusters_merge(cluster_ids) -> uuid.UUID:
    """Relabel every cluster in `cluster_ids` to the largest of them; return the survivor. The Cluster rows are
    locked in id order, so two merges of overlapping clusters wait for each other instead of crossing."""
    ids = sorted({c for c in cluster_ids if c is not None})
    if not ids:
        return _cluster_new()
    while True:  # lock, and replace the ids merged meanwhile by the cluster they went into
        rows = dict(
            Cluster.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "merged_into")
        )
        stale = {c for c, into in rows.items() if into is not None}
        if not stale:
            break
        ids = sorted((set(ids) - stale) | {rows[c] for c in stale})
    if len(ids) == 1:
        return ids[0]
    sizes = dict.fromkeys(ids, 0)
    for model in (ChainCase, Contact, EventAttendance):
        for row in model.objects.filter(cluster_id__in=ids).values("cluster_id").annotate(n=Count("pk")):
            sizes[row["cluster_id"]] += row["n"]
    survivor = max(ids, key=lambda c: (sizes[c], str(c)))
    losers = [c for c in ids if c != survivor]
    for model in NODE_MODELS:
        model.objects.filter(cluster_id__in=losers).update(cluster_id=survivor)
    Cluster.objects.filter(pk__in=losers).update(merged_into=survivor)
    return survivor


def _person_clusters(person_ids) -> set:
    person_ids = list(person_ids)
    found: set = set()
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        for model in (ChainCase, Contact, EventAttendance):
            found |= set(
                model.objects.filter(person_id__in=chunk).values_list("cluster_id", flat=True).distinct()
            )
    return found


def _cluster_current(cluster_id) -> uuid.UUID:
    """Lock the cluster's row and follow `merged_into`: the id returned stays current until the transaction ends
    (a concurrent merge waits for the lock), so a node written with it is never left behind in a merged cluster."""
    while True:
        merged_into = (
            Cluster.objects.select_for_update()
            .filter(pk=cluster_id)
            .values_list("merged_into", flat=True)
            .get()
        )
        if merged_into is None:
            return cluster_id
        cluster_id = merged_into


def _chain_case(case: Case, *, join=()) -> uuid.UUID:
    """The case's cluster (creating its node: merged with every record of the same person), merged with `join`
    clusters. Returns the cluster id, locked for the rest of the transaction."""
    node = ChainCase.objects.filter(case_id=case.pk).first()
    clusters = set(join)
    if node is None:
        cluster = _clusters_merge(clusters | _person_clusters([case.person_id]))
        node, created = ChainCase.objects.get_or_create(
            case_id=case.pk,
            defaults={"person_id": case.person_id, "org_path": case.org_path, "cluster_id": cluster},
        )
        if created:
            return _cluster_current(cluster)
        clusters.add(cluster)  # another request created the node meanwhile: join its cluster
    return _cluster_current(_clusters_merge(clusters | {node.cluster_id}))
