import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from mahalle.core.management.commands.serve import server_create
from mahalle.synth.demo import DEMO_PERSONS, DEMO_SEED, demo_setup


class Command(BaseCommand):
    help = (
        "Set up the demo (migrate, geography, a synthetic population of 100,000 if the registry is empty, one "
        "user per role with a known password), then run the task worker and the web server until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--persons", type=int, default=DEMO_PERSONS, help="population size (default 100000)"
        )
        parser.add_argument("--seed", type=int, default=DEMO_SEED)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--setup-only", action="store_true", help="set up and exit; start no servers")

    def handle(self, *args, **options):
        started = time.perf_counter()
        self.stdout.write("setting up the demo database …")
        with tqdm(
            total=options["persons"], file=sys.stderr, unit="person", disable=None, desc="synth"
        ) as bar:
            result = demo_setup(persons=options["persons"], seed=options["seed"], progress=bar.update)
        if result["synth"] is None:
            self.stdout.write(f"registry already has {result['persons']} persons: population not regenerated")
        self.stdout.write(self.users_table(result["users"]))
        if options["setup_only"]:
            self.stdout.write(f"demo ready in {time.perf_counter() - started:.1f} s")
            return
        server = server_create(host=options["host"], port=options["port"], threads=options["threads"])
        worker = subprocess.Popen([sys.executable, "-m", "mahalle.cli", "worker", "--no-reload"])

        def stop(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, stop)
        try:
            self.stdout.write(
                f"serving on http://{options['host']}:{options['port']}/ after "
                f"{time.perf_counter() - started:.1f} s (Ctrl-C stops the server and the worker)"
            )
            self.stdout.flush()
            server.run()
        except KeyboardInterrupt:
            self.stdout.write("stopping …")
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.close()
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            self.stdout.write("stopped")

    @staticmethod
    def users_table(rows: list[dict]) -> str:
        headers = ["username", "role", "org unit", "password"]
        keys = ["username", "role", "org_unit", "password"]
        widths = [max(len(h), *(len(str(r[k])) for r in rows)) for h, k in zip(headers, keys, strict=True)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        out = ["", "demo users:", line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)) for r in rows]
        return "\n".join(out) + "\n"
