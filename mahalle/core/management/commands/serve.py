from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import get_internal_wsgi_application
from waitress import create_server


def server_create(*, host: str, port: int, threads: int):
    """A waitress server bound to host:port for the project's WSGI application (settings.WSGI_APPLICATION; static
    files: WhiteNoise). Binding happens here, so a busy port is reported before anything else starts; call .run()
    to serve."""
    application = get_internal_wsgi_application()
    try:
        return create_server(application, host=host, port=port, threads=threads)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


class Command(BaseCommand):
    help = "Run the web server (waitress) on the WSGI application."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")

    def handle(self, *args, **options):
        server = server_create(host=options["host"], port=options["port"], threads=options["threads"])
        self.stdout.write(f"serving on http://{options['host']}:{options['port']}/ (Ctrl-C stops)")
        self.stdout.flush()
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
