"""metrics.json and report.md: a table and spectrogram pictures, readable in a minute."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from scipy.signal import stft

from model.eval.metrics import QUIET_BELOW_REFERENCE_DB
from v2a.contracts import SAMPLE_RATE

COLUMNS = [
    ("onset_acc", "onset acc ↑"),
    ("onset_ap", "onset AP ↑"),
    ("onset_count_acc", "# onsets acc ↑"),
    ("av_align", "AV-Align ↑"),
    ("frechet", "Fréchet (aisfx) ↓"),
    ("class_agreement", "class agree ↑"),
    ("class_agreement_train_centroids", "class agree, train centroids"),
    ("quiet_share", "quiet ↓"),
    ("rtf", "RTF ↓"),
]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def markdown_table(results: dict) -> str:
    lines = ["| generator | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name, row in results.items():
        if row.get("status") in ("pending", "failed"):
            lines.append(f"| {name} | " + " | ".join([row["status"]] * len(COLUMNS)) + " |")
            continue
        cells = []
        for key, _ in COLUMNS:
            value = row.get(key)
            cells.append("—" if value is None else
                         f"{value:.1f}" if key == "frechet" else f"{value:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_class_tables(results: dict) -> str:
    """Three tables, classes by generators: median level (dB RMS), class agreement, AV-Align."""
    scored = {name: row["per_class"] for name, row in results.items() if "per_class" in row}
    if not scored:
        return ""
    classes = sorted(next(iter(scored.values())))
    text = []
    for key, title, fmt in (("level_db", "Median level, dB RMS (a model far below the reference "
                             "is close to silent there)", "{:.1f}"),
                            ("class_agreement", "Class agreement", "{:.2f}"),
                            ("av_align", "AV-Align (the reference's column is each class's bar: where "
                             "it is low, the recording's own onsets miss the motion peaks)", "{:.2f}")):
        text += [f"### {title}", "", "| class | " + " | ".join(scored) + " |",
                 "|---|" + "---:|" * len(scored)]
        text += [f"| {c} | " + " | ".join("—" if rows[c][key] is None else fmt.format(rows[c][key])
                                         for rows in scored.values()) + " |"
                 for c in classes]
        text.append("")
    return "\n".join(text)


def frechet_parts_table(results: dict) -> str:
    """Each generator's Fréchet distance in parts, beside the reference's spread."""
    rows = {name: row["frechet_parts"] for name, row in results.items() if "frechet_parts" in row}
    if not rows:
        return ""
    ceilings = list(next(iter(rows.values())).get("vs_ceiling", {}))
    header = ["generator", "mean term", "covariance term", "spread", "spread of class means",
              *(f"Fréchet to {c}" for c in ceilings)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, p in rows.items():
        cells = [p["mean_term"], p["covariance_term"], p["spread"], p["class_spread"],
                 *(p.get("vs_ceiling", {}).get(c, float("nan")) for c in ceilings)]
        text = (f"{v:.1f}".replace("-0.0", "0.0") for v in cells)  # rounding noise of zero
        lines.append(f"| {name} | " + " | ".join(text) + " |")
    return "\n".join(lines)


def spectrogram_figure(path: Path, title: str, rows: list[tuple[str, np.ndarray, np.ndarray]],
                       reference_onsets: np.ndarray, video_peaks: np.ndarray) -> None:
    """One panel per sound: log spectrogram up to 12 kHz, reference onsets (white dashed),
    that sound's own detected onsets (red) and the video's motion peaks (cyan ticks)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.35 * len(rows) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (label, audio, onsets) in zip(axes, rows, strict=True):
        f, t, z = stft(audio, SAMPLE_RATE, nperseg=1024, noverlap=512)
        keep = f <= 12_000
        db = 20 * np.log10(np.abs(z[keep]) + 1e-6)
        ax.imshow(db, origin="lower", aspect="auto", extent=(t[0], t[-1], 0, 12), vmin=-100,
                  vmax=-20, cmap="magma", interpolation="nearest")
        for x in reference_onsets:
            ax.axvline(x, color="white", ls="--", lw=0.8)
        for x in onsets:
            ax.axvline(x, color="red", lw=1.2, alpha=0.8)
        ax.plot(video_peaks, np.full(len(video_peaks), 11.3), "v", color="cyan", ms=5)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
    axes[-1].set_xlabel("seconds   (white dashed: reference onsets, red: this sound's onsets, "
                        "cyan: video motion peaks)", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=64)
    plt.close(fig)
    os.replace(tmp, path)


def write_report(out: Path, results: dict, settings: dict, pictures: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "metrics.json", json.dumps({"settings": settings, "results": results},
                                                   indent=1))
    notes = []
    for name, row in results.items():
        prov = row.get("provenance", {}) if isinstance(row, dict) else {}
        if row.get("status") in ("pending", "failed"):
            notes.append(f"- **{name}**: {row['status']} — {row['reason']}")
        elif prov:
            notes.append(f"- **{name}**: {prov.get('kind', 'model')} — "
                         f"{prov.get('note', prov.get('checkpoint', prov.get('generator', '')))}")
    prompts = settings.get("prompts", "the example's caption")
    offset = settings.get("seed_offset", 0)
    seeds = f"{offset:,} + the example's index" if offset else "the example's index"
    text = [
        f"# v2a evaluation: {settings['corpus']} ({settings['split']} split, "
        f"{settings['examples']} examples, {settings['classes']} classes)",
        "",
        f"Prompt given to every generator: {prompts}. Noise seed: {seeds}.",
        "",
        markdown_table(results),
        "",
        "↑ higher is better, ↓ lower. Onset figures compare the sound's detected onsets with the "
        "reference audio's (±0.1 s); AV-Align compares them with the video's motion peaks (±1 "
        "frame); Fréchet distance and class agreement use the aisfx embedding; quiet is the share "
        f"of clips more than {QUIET_BELOW_REFERENCE_DB:g} dB below their reference's level (to an "
        f"editor, no sound); RTF is generation time / audio duration on {settings['machine']}. "
        "Definitions: docs/eval.md.",
        "",
        "`reference` is the corpus's own audio: its AV-Align is what perfect sound scores against "
        "this motion detector. `random-sample` and `onset-transfer` are told the example's class "
        "(an oracle); `ceiling` is given the reference audio. Class agreement: nearest class "
        "centroid of the other reference clips scored here (the reference's own row leaves itself "
        "out; clips whose class has no other clip here cannot agree and are left out, — where none "
        "is left); the train-centroid column is the older measure, which favours reproducing "
        "training recordings.",
        "",
        "## Generators",
        *notes,
        "",
        "## Fréchet distance in parts",
        "",
        "Fréchet = mean term + covariance term. Spread is the trace of the embeddings' covariance "
        "and spread of class means that of the class means' covariance: a generator whose "
        "classes sound alike has a small spread of class means next to the reference's. "
        "Fréchet to a ceiling measures each generator against the reference audio passed through "
        "that decoder: what a perfect model could sound like there.",
        "",
        frechet_parts_table(results),
        "",
        "## Per class",
        "",
        per_class_tables(results),
        "## Examples",
        *[f"![{p}]({p})" for p in pictures],
        "",
    ]
    _write_atomic(out / "report.md", "\n".join(text))
