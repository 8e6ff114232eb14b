"""`crisis replay` and `crisis backtest`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crisis.detection.scoring import format_table, score
from crisis.response.replay import replay


def register(cli: click.Group) -> None:
    cli.add_command(replay_cmd)
    cli.add_command(backtest_cmd)


def _write_lines(lines: list[dict[str, object]], out: str | None) -> None:
    text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    if out in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(out).write_text(text)


@click.command("replay")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default=None, help="Write incidents here as JSON lines (default: stdout).")
def replay_cmd(files: tuple[str, ...], out: str | None) -> None:
    """Replay NDJSON streams (gzip too) on event time; print one JSON line per incident opened."""
    try:
        lines = replay(list(files))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _write_lines(lines, out)
    click.echo(f"{len(lines)} incidents opened", err=True)


@click.command("backtest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", "labels_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--out", default=None, help="Also write the incidents as JSON lines.")
def backtest_cmd(file: str, labels_path: str, as_json: bool, out: str | None) -> None:
    """Replay a labeled stream and score the incidents: recall, delays, false alarms, duplicates."""
    labels = json.loads(Path(labels_path).read_text())
    try:
        lines = replay([file])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if out:
        _write_lines(lines, out)
    report = score(labels, lines)
    click.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else format_table(report))
