"""Background work of the aid area. Tasks take plain values, are idempotent and call one service."""

from django_tasks import task

from .services import cycle_compute, cycles_due_run


@task()
def compute_cycle(cycle_id: int) -> int:
    """Compute a running cycle's entitlements (progress is saved on the cycle); returns how many."""
    return cycle_compute(cycle_id=cycle_id).entitled


@task()
def run_due_cycles() -> list[int]:
    """Queue every draft cycle whose period has started; schedule it daily. Running it again queues nothing."""
    return cycles_due_run()
