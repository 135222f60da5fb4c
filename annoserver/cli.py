"""The ``annoserver`` command: serve, migrate the database, manage tokens, enrich manifests."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import FlaskGroup

from annoserver.store.db import make_engine, upgrade
from annoserver.store.tokens import SCOPES

if TYPE_CHECKING:  # the job machinery imports the ONNX runtime: only load it when used
    from annoserver.jobs import JobContext


def _create_app():  # noqa: ANN202 - FlaskGroup's callback
    from annoserver.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """annoserver: IIIF-native W3C Web Annotation server."""


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn (migrating the database first)."""
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:annoserver.gunicorn_config",
            "--bind", f"{host}:{port}", "--workers", str(workers),
            "annoserver.app:create_app()"]
    os.execv(sys.executable, argv)


@main.command()
@click.option("--processes", default=None, type=int,
              help="Worker processes (default: Dramatiq's, one per CPU; with --gpus, per GPU: 1).")
@click.option("--threads", default=None, type=int,
              help="Threads per process (default: Dramatiq's, 8).")
@click.option("--gpus", default="", help="Comma-separated GPU ids: one process group per GPU, "
              "each seeing only its own (CUDA_VISIBLE_DEVICES).")
def worker(processes: int | None, threads: int | None, gpus: str) -> None:
    """Run job units from the Dramatiq broker at BROKER_URL (a Redis URL)."""
    from annoserver.jobs.broker import QUEUE
    from annoserver.jobs.launch import dramatiq_commands, run

    if not current_app.config["BROKER_URL"]:
        raise click.ClickException("set ANNOSERVER_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    devices = [gpu.strip() for gpu in gpus.split(",") if gpu.strip()]
    sys.exit(run(dramatiq_commands(QUEUE, processes, threads, devices)))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    url = current_app.config["DATABASE_URL"]
    upgrade(make_engine(url))
    click.echo(f"database at the newest schema: {make_engine(url).url!r}")


@main.group()
def tokens() -> None:
    """Bearer tokens."""


def _tokens():  # noqa: ANN202
    return current_app.extensions["annoserver.tokens"]


@tokens.command("create")
@click.option("--scope", type=click.Choice(SCOPES), default="write", show_default=True)
@click.option("--name", default="", help="A label to recognise the token by.")
def tokens_create(scope: str, name: str) -> None:
    """Create a token; its secret is printed once, as the last line."""
    info, secret = _tokens().create(scope, name)
    click.echo(f"token {info.id} ({info.name}, scope {info.scope}); keep the secret, it is "
               "not stored:", err=True)
    click.echo(secret)


@tokens.command("list")
def tokens_list() -> None:
    """List tokens (never their secrets)."""
    for info in _tokens().list():
        state = f"revoked {info.revoked:%Y-%m-%d %H:%M}" if info.revoked else "active"
        click.echo(f"{info.id}\t{info.scope}\t{state}\t{info.name}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token at once, for every worker."""
    if not _tokens().revoke(token_id):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@main.group("models")
def models_group() -> None:
    """The model repository."""


@models_group.command("list")
def models_list() -> None:
    """List installed models: id, kind, version, provider, license."""
    for model in current_app.extensions["annoserver.runtime"].describe():
        click.echo(f"{model['id']}\t{model['kind']}\t{model['version']}\t"
                   f"{model['provider']}\t{model['license']}")


@models_group.command("check", with_appcontext=False)
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
def models_check(path: str | None) -> None:
    """Validate a model repository (default: the configured one); exit 1 on any error."""
    from annoserver.config import SHIPPED_MODELS
    from annoserver.inference import check_repository

    folder = path or os.environ.get("ANNOSERVER_MODELS_DIR") or str(SHIPPED_MODELS)
    problems = check_repository(folder)
    for problem in problems:
        click.echo(str(problem), err=True)
    errors = [p for p in problems if p.severity == "error"]
    click.echo(f"{folder}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    if errors:
        raise SystemExit(1)


@main.command("enrich")
@click.argument("url")
@click.option("--models", required=True, help="Model ids, comma-separated (e.g. a,b).")
@click.option("--wait", is_flag=True,
              help="Run the job here, with a progress bar, until it finishes.")
@click.option("--public-url", default=None,
              help="Base URL the annotations are minted under (default: PUBLIC_URL, else "
                   "http://127.0.0.1:8080).")
def enrich(url: str, models: str, wait: bool, public_url: str | None) -> None:
    """Register a manifest or collection URL and run models on every canvas.

    Without --wait the job is only queued, for a server on the same database to run.
    """
    from annoserver.errors import AnnoserverError
    from annoserver.jobs import submit
    from annoserver.jobs.enriched import manifest_url

    base = (public_url or current_app.config["PUBLIC_URL"] or "http://127.0.0.1:8080")
    base = base.rstrip("/") + "/"
    model_ids = [model.strip() for model in models.split(",") if model.strip()]
    context = current_app.extensions["annoserver.jobs"]
    try:
        submitted = submit(context, url, model_ids, {}, base)
    except AnnoserverError as error:
        raise click.ClickException(f"{error.title}: {error.detail}") from error
    click.echo(f"job {submitted.job_id} queued for {url}", err=True)
    if wait:
        _run_to_the_end(context, submitted.job_id)
    click.echo(manifest_url(base, submitted.key))


@main.command("demo")
@click.option("--public-url", required=True, help="The running server's URL.")
@click.option("--models", default="",
              help="Model ids, comma-separated (default: every model that makes annotations).")
@click.option("--timeout", default=120.0, show_default=True,
              help="Seconds to wait for the server to answer.")
def demo(public_url: str, models: str, timeout: float) -> None:
    """Enrich the demo manifest once and print the viewer URL (``make run`` starts this)."""
    from annoserver.errors import AnnoserverError
    from annoserver.jobs.demo import default_models, enrich_demo, viewer_url, wait_until_served

    base = public_url.rstrip("/") + "/"
    url = current_app.config["DEMO_MANIFEST"] or f"{base}demo/manifest.json"
    context = current_app.extensions["annoserver.jobs"]
    model_ids = ([m.strip() for m in models.split(",") if m.strip()]
                 or default_models(context.runtime))
    try:
        wait_until_served(context, url, timeout)
        job_id, new = enrich_demo(context, url, model_ids, base)
    except AnnoserverError as error:
        raise click.ClickException(f"{error.title}: {error.detail}") from error
    click.echo(f"\nannoserver demo (models: {', '.join(model_ids)}) in the viewer:\n"
               f"  {viewer_url(base, url)}\n")
    if context.repository.job(job_id).state != "done":
        click.echo(f"job {job_id} {'queued' if new else 'resumed'}: annotations appear in the "
                   "viewer as canvases finish", err=True)
        _run_to_the_end(context, job_id)


def _run_to_the_end(context: JobContext, job_id: int) -> None:
    """Run a job with an in-process executor here, showing progress; exit 1 if it failed."""
    from annoserver.jobs import InProcessExecutor
    from annoserver.store.jobs import ACTIVE

    settings = replace(context.settings, threads=max(context.settings.threads, 1))
    executor = InProcessExecutor(replace(context, settings=settings))
    executor.start()
    try:
        job = context.repository.job(job_id)
        with click.progressbar(length=max(job.total, 1), label="enriching",
                               show_pos=True, file=sys.stderr) as bar:
            shown = 0
            while job.state in ACTIVE:
                time.sleep(0.2)
                job = context.repository.job(job_id)
                bar.length = max(job.total, 1)
                bar.update(job.done + job.failed - shown)
                shown = job.done + job.failed
    finally:
        executor.stop()
    for error in job.errors:
        where = error.get("canvas") or error.get("manifest") or error.get("collection")
        click.echo(f"  {where}: {error.get('detail')}", err=True)
    click.echo(f"job {job_id} {job.state}: {job.done} done, {job.failed} failed of "
               f"{job.total}", err=True)
    if job.state != "done":
        raise SystemExit(1)
