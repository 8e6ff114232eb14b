"""`crisis replay` and `crisis backtest`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crisis.detection.scoring import format_table, score
from crisis.response.replay import replay, replay_views


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
    """Replay a labeled stream and score the incidents: recall, delays, false alarms, duplicates.

    Two views: the incidents opened (a related episode that joined an open incident opens
    none, crisis.response.related), and every episode the detectors opened; when an
    episode joined an incident the second table is printed too, so a duplicate on the
    detector's side shows even where the response layer folded it into one incident."""
    labels = json.loads(Path(labels_path).read_text())
    try:
        result = replay_views([file])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if out:
        _write_lines(result.incidents, out)
    report = score(labels, result.incidents)
    report["detector_view"] = score(labels, result.episodes) if result.joined else None
    report["joined_episodes"] = len(result.joined)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    click.echo(format_table(report))
    click.echo(f"detector episodes: {len(result.episodes)} opened, {len(result.joined)} joined an open incident")
    if result.joined:
        click.echo("detector view (every episode, joined ones included):")
        click.echo(format_table(report["detector_view"]))
