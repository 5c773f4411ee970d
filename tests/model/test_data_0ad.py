"""0 A.D.'s recordings as training-only extras: read from inside their zip, dealt to train only,
never shown with a held-out picture, and the val/test splits stay byte-identical.

A small zip in 0ad-data's layout stands in for the 3.2 GB package, so this runs wherever the
three base packages are installed (CI installs them; 0ad-data is optional).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

import model.data.sources as sources
from model.data.build import build_corpus, split_recordings
from model.data.io import read_recording
from v2a.contracts import SAMPLE_RATE

needs_packages = pytest.mark.skipif(
    not {"bird", "mammal"} <= {c.name for c in sources.discover_classes()},
    reason="Debian sound packages not installed (bash scripts/setup-data.sh)",
)


def _ogg(seconds: float, hz: float, rate: int = 44100) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * hz * t) * np.exp(-3 * t)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, rate, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


@pytest.fixture
def fake_0ad(tmp_path, monkeypatch) -> Path:
    archive = tmp_path / "public.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("audio/actor/fauna/animal/chicken_10.ogg", _ogg(1.0, 900))
        z.writestr("audio/actor/fauna/animal/chicken_11.ogg", _ogg(0.8, 1200))
        z.writestr("audio/actor/fauna/animal/peacock_call_01.ogg", _ogg(1.5, 700))
        z.writestr("audio/actor/fauna/animal/cattle_01.ogg", _ogg(2.0, 150))
        z.writestr("audio/actor/fauna/animal/sheep_10.ogg", _ogg(1.0, 300))  # ram.png is test's
        z.writestr("audio/ambient/weather/thunder_10.ogg", _ogg(3.0, 60))  # its picture is test's
        z.writestr("audio/LICENSE.txt", "CC-BY-SA-3.0")
    monkeypatch.setattr(sources, "ZERO_AD", str(archive))
    monkeypatch.setitem(sources.PACKAGES, str(archive), "0ad-data")
    sources._zip_members.cache_clear()
    yield archive
    sources._zip_members.cache_clear()


def test_a_recording_inside_a_zip_is_read_like_a_file(fake_0ad):
    audio = read_recording(f"{fake_0ad}/audio/actor/fauna/animal/cattle_01.ogg")
    assert audio.shape == (2 * SAMPLE_RATE,)  # resampled from 44.1 kHz
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / audio.size - 150) < 2
    with pytest.raises(ValueError, match="cattle_99.ogg"):
        read_recording(f"{fake_0ad}/audio/actor/fauna/animal/cattle_99.ogg")


def test_a_pattern_inside_a_zip_matches_like_glob_on_disk(fake_0ad):
    # A `*` stays inside its folder, as glob's does for files on disk.
    found = sources._files(f"{fake_0ad}/audio/*/fauna/animal/c*.ogg")
    assert [f.rsplit("/", 1)[1] for f in found] == ["cattle_01.ogg", "chicken_10.ogg", "chicken_11.ogg"]
    assert sources._files(f"{fake_0ad}/audio/*.ogg") == []  # no recording directly under audio/
    assert sources._files(f"{fake_0ad}/audio/*.txt") == [f"{fake_0ad}/audio/LICENSE.txt"]


@needs_packages
def test_extras_join_train_only_and_never_show_a_held_out_picture(fake_0ad):
    plain = {c.name: c for c in sources.discover_classes()}
    extra = {c.name: c for c in sources.discover_classes(with_0ad=True)}
    kept: dict[str, dict[str, set[str]]] = {}
    for name in ("bird", "mammal", "explosion"):
        before, after = split_recordings(plain[name], 0), split_recordings(extra[name], 0)
        assert after["val"] == before["val"] and after["test"] == before["test"]
        assert after["train"][:len(before["train"])] == before["train"]
        added = after["train"][len(before["train"]):]
        assert all(r.train_only and r.package == "0ad-data" for r in added)
        held_out = {p for r in before["val"] + before["test"] for p in r.pictures}
        shown_in_train = {p for r in before["train"] for p in r.pictures}
        assert not {p for r in added for p in r.pictures} & (held_out - shown_in_train)
        kept[name] = {Path(r.path).stem: {Path(p).stem for p in r.pictures} for r in added}
    assert set(kept["bird"]) == {"chicken_10", "chicken_11", "peacock_call_01"}
    # Seed 0 deals the ram and the lightning bolt to test: the sheep keeps its other pictures,
    # and thunder, whose only picture is the lightning bolt, is left out.
    assert "ram" in {Path(p).stem for r in plain["mammal"].recordings for p in r.pictures}
    assert kept["mammal"]["sheep_10"] == {"sheep", "sheep_lamb"}
    assert kept["explosion"] == {}
    assert any("thunder" in r.path for r in extra["explosion"].recordings)


@needs_packages
def test_a_build_with_extras_keeps_val_and_test_byte_identical(fake_0ad, tmp_path):
    def digests(corpus: Path, split: str) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((corpus / split).iterdir())}

    plain = build_corpus(tmp_path / "plain", per_class=14, workers=1, progress=False,
                         only_classes=["bird"])
    extra = build_corpus(tmp_path / "extra", per_class=14, workers=2, progress=False,
                         only_classes=["bird"], with_0ad=True)
    assert plain["packages"] + ["0ad-data"] == extra["packages"]
    for split in ("val", "test"):
        assert digests(tmp_path / "extra", split) == digests(tmp_path / "plain", split)
    rows = [json.loads(line) for line in (tmp_path / "extra/manifest.jsonl").read_text().splitlines()]
    from_0ad = [r for r in rows if r["package"] == "0ad-data"]
    assert from_0ad and {r["split"] for r in from_0ad} == {"train"}
    licences = json.loads((tmp_path / "extra/licenses.json").read_text())
    assert all(r["source"] in licences for r in from_0ad)


def test_asking_for_0ad_without_it_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "ZERO_AD", str(tmp_path / "missing/public.zip"))
    with pytest.raises(RuntimeError, match="setup-data.sh --with-0ad"):
        sources.discover_classes(with_0ad=True)


@pytest.mark.skipif(not Path(sources.ZERO_AD).is_file(), reason="0ad-data not installed")
def test_0ad_sounds_carry_the_packages_licence():
    member = f"{sources.ZERO_AD}/audio/actor/fauna/animal/cattle_01.ogg"
    assert sources.licence_of(member, "0ad-data") == "CC-BY-SA-3.0"
