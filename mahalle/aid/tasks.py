"""Background work of the aid area. Tasks take plain values, are idempotent and call one service."""

from django.dispatch import receiver
from django_tasks import task

from .services import cycle_compute, cycle_queued, cycles_due_run


@task()
def compute_cycle(cycle_id: int) -> int:
    """Compute a running cycle's entitlements (progress is saved on the cycle); returns how many."""
    return cycle_compute(cycle_id=cycle_id).entitled


@task()
def run_due_cycles() -> list[int]:
    """Queue every draft cycle whose period has started; schedule it daily. Running it again queues nothing."""
    return cycles_due_run()


@receiver(cycle_queued)
def _compute_when_queued(sender, cycle_id: int, **kwargs) -> None:
    """A cycle was marked running (the commit is done): queue its computation."""
    compute_cycle.enqueue(cycle_id)
