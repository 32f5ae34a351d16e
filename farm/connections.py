"""The database connection budget: how many PostgreSQL connections the whole farm may open.

Each process bounds the connections it can hold: a gunicorn worker one per thread, a Celery
pool child one, beat one, a fleet link one per poll thread plus its main loop. So the farm's
total is a sum that can be checked against FARM_DB_CONNECTIONS before anything starts, and
the web's threads are derived from what is left. Plain Python: gunicorn's configuration reads
it before Django is set up.
"""

from __future__ import annotations

from dataclasses import dataclass

# manage.py commands, migrations, a psql session: never let the farm itself take the last ones.
RESERVE = 3
BEAT = 1
# A web worker's threads beyond this only wait on the GIL: two cores serve no more at once.
MAX_WEB_THREADS = 16


@dataclass(frozen=True)
class ConnectionBudget:
    total: int  # FARM_DB_CONNECTIONS
    web_workers: int  # gunicorn processes
    web_threads: int  # threads per gunicorn process; 0: derived from the budget
    worker_connections: int  # Celery pool children on every worker machine together
    fleet_links: int  # fleet link processes (one per site or shard)
    fleet_link_threads: int  # poll threads in one fleet link

    @property
    def fleet_connections(self) -> int:
        return self.fleet_links * (self.fleet_link_threads + 1)

    @property
    def others(self) -> int:
        """Every connection that is not the web's."""
        return self.worker_connections + self.fleet_connections + BEAT + RESERVE

    @property
    def threads(self) -> int:
        """Threads per web worker: the configured number, else the web's share of the budget."""
        if self.web_threads:
            return self.web_threads
        share = (self.total - self.others) // self.web_workers
        return max(1, min(MAX_WEB_THREADS, share))

    @property
    def web_connections(self) -> int:
        return self.web_workers * self.threads

    @property
    def needed(self) -> int:
        return self.web_connections + self.others

    def fits(self) -> bool:
        return self.needed <= self.total

    def describe(self) -> str:
        return (
            f"web {self.web_workers} × {self.threads} threads = {self.web_connections}, "
            f"workers {self.worker_connections}, fleet links {self.fleet_connections}, "
            f"beat {BEAT}, reserve {RESERVE}: {self.needed} of {self.total}"
        )
