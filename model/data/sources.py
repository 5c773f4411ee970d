"""Where the corpus's recordings and pictures come from: installed Debian packages.

Each sound class lists its recordings (real recorded sounds) and the pictures that may be shown
making them, and how a clip is rendered: ``step`` (a foot lands on the material), ``strike``
(an object is hit), ``stamp`` (a picture moves with its sound's energy), ``burst`` (a flash).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

MINETEST = "/usr/share/games/minetest/games/minetest_game/mods"
SONIC_PI = "/usr/share/sonic-pi/samples"
TUXPAINT = "/usr/share/tuxpaint/stamps"
PACKAGES = {
    MINETEST: "minetest-data",
    SONIC_PI: "sonic-pi-samples",
    TUXPAINT: "tuxpaint-stamps-default",
}
#: The exact Debian install line; scripts/setup-data.sh runs it.
APT_PACKAGES = ("minetest-data", "sonic-pi-samples", "tuxpaint-stamps-default")

_MT_SOUND = MINETEST + "/default/sounds/"
_MT_TEX = MINETEST + "/default/textures/"
_MT_DOOR = MINETEST + "/doors/"


@dataclass(frozen=True)
class Recording:
    path: str
    pictures: tuple[str, ...]  # what may be seen making this sound
    caption: str  # e.g. "footsteps on gravel"
    package: str


@dataclass
class SoundClass:
    name: str
    render: str  # "step", "strike", "stamp", "burst"
    recordings: list[Recording] = field(default_factory=list)


def _package_of(path: str) -> str:
    for root, package in PACKAGES.items():
        if path.startswith(root):
            return package
    raise ValueError(f"{path} is not in a known package")


def _files(pattern: str) -> list[str]:
    return sorted(glob.glob(pattern))


def _add(cls: SoundClass, pattern: str, pictures: list[str], caption: str) -> None:
    pics = tuple(p for p in pictures if os.path.isfile(p))
    for path in _files(pattern):
        if pics:
            cls.recordings.append(Recording(path, pics, caption, _package_of(path)))


def _stamp_caption(png: str, fallback: str) -> str:
    """Tux Paint keeps an English description beside each stamp: "A frog." -> "a frog"."""
    txt = Path(png).with_suffix(".txt")
    if txt.is_file():
        first = txt.read_text(errors="replace").strip().splitlines()
        if first and not first[0].startswith("#"):
            return first[0].strip().rstrip(".!").lower()
    return fallback


def _stamp_class(name: str, folders: list[str]) -> SoundClass:
    """Tux Paint stamps whose sound sits beside their picture (frog.ogg + frog.png)."""
    cls = SoundClass(name, "stamp")
    for folder in folders:
        for ogg in _files(f"{TUXPAINT}/{folder}/**/*.ogg") + _files(f"{TUXPAINT}/{folder}/*.ogg"):
            if "_desc" in ogg or re.search(r"_[a-z]{2}(_[A-Z]{2})?\.ogg$", ogg):
                continue  # spoken descriptions in other languages, not the thing's sound
            png = ogg[: -len(".ogg")] + ".png"
            if os.path.isfile(png) and all(r.path != ogg for r in cls.recordings):
                thing = _stamp_caption(png, Path(ogg).stem.replace("_", " "))
                if len(thing) > 40:  # a sentence, not a name ("remember to flush ...")
                    thing = Path(ogg).stem.replace("_", " ")
                caption = f"the sound of {thing}"
                cls.recordings.append(Recording(ogg, (png,), caption, _package_of(ogg)))
    return cls


def discover_classes() -> list[SoundClass]:
    """All classes whose material is installed, with at least 3 recordings each."""
    soft = SoundClass("footsteps_soft", "step")
    for material, texture in [("gravel", "gravel"), ("sand", "sand"), ("snow", "snow"),
                              ("grass", "grass"), ("dirt", "dirt"), ("water", "water")]:
        _add(soft, f"{_MT_SOUND}default_{material}_footstep*.ogg", [f"{_MT_TEX}default_{texture}.png"],
             f"footsteps on {material}" if material != "water" else "footsteps in shallow water")
    hard = SoundClass("footsteps_hard", "step")
    for material, textures in [("wood", ["wood"]), ("metal", ["steel_block"]),
                               ("hard", ["stone", "cobble", "brick"]), ("ice", ["ice"]),
                               ("glass", ["glass"])]:
        caption = "footsteps on stone" if material == "hard" else f"footsteps on {material}"
        _add(hard, f"{_MT_SOUND}default_{material}_footstep*.ogg",
             [f"{_MT_TEX}default_{t}.png" for t in textures], caption)

    glass = SoundClass("glass_break", "strike")
    glass_pics = [f"{_MT_TEX}default_glass.png", f"{TUXPAINT}/household/dishes/glass.png"]
    _add(glass, f"{_MT_SOUND}default_break_glass*.ogg", glass_pics, "glass shatters")
    _add(glass, f"{TUXPAINT}/household/dishes/glass.ogg", glass_pics, "a glass breaks")

    door = SoundClass("door", "strike")
    _add(door, f"{_MT_DOOR}sounds/doors_door_*.ogg", [f"{_MT_DOOR}textures/doors_door_wood.png"],
         "a wooden door")
    _add(door, f"{_MT_DOOR}sounds/doors_steel_door_*.ogg",
         [f"{_MT_DOOR}textures/doors_door_steel.png"], "a steel door")
    _add(door, f"{_MT_DOOR}sounds/doors_glass_door_*.ogg",
         [f"{_MT_DOOR}textures/doors_door_glass.png"], "a glass door")
    _add(door, f"{_MT_DOOR}sounds/doors_fencegate_*.ogg", [f"{_MT_TEX}default_wood.png"],
         "a wooden gate")
    _add(door, f"{MINETEST}/xpanes/sounds/*door*.ogg", [f"{_MT_DOOR}textures/doors_trapdoor_steel.png"],
         "a barred steel door")
    _add(door, f"{_MT_SOUND}default_chest_*.ogg", [f"{_MT_TEX}default_chest_front.png"],
         "a wooden chest lid")
    _add(door, f"{SONIC_PI}/perc_door.flac", [f"{_MT_DOOR}textures/doors_door_wood.png"], "a door")

    drums = [f"{TUXPAINT}/hobbies/music/percussion/{n}.png" for n in ("drum_tomtom_floor", "drumkit")]
    drum = SoundClass("drum", "strike")
    for pattern in ("bd_*", "drum_bass_*", "drum_heavy_kick", "drum_snare_*", "drum_tom_*",
                    "sn_*", "tabla_*"):
        _add(drum, f"{SONIC_PI}/{pattern}.flac", drums, "a drum is hit")
    _add(drum, f"{TUXPAINT}/hobbies/music/percussion/drum*.ogg", drums, "a drum is hit")

    metal = SoundClass("metal_strike", "strike")
    metal_pics = [f"{TUXPAINT}/hobbies/music/percussion/cymbal_crash.png",
                  f"{TUXPAINT}/household/tools/mallet_metal.png", f"{_MT_TEX}default_steel_block.png"]
    for pattern in ("drum_cymbal_*", "drum_splash_*", "perc_bell*", "drum_cowbell"):
        _add(metal, f"{SONIC_PI}/{pattern}.flac", metal_pics, "a metal cymbal or bell is struck")
    _add(metal, f"{TUXPAINT}/hobbies/music/percussion/cymbal_crash.ogg", metal_pics, "a cymbal crash")
    _add(metal, f"{TUXPAINT}/household/tools/mallet_metal.ogg", metal_pics, "metal hammering")
    for pattern in ("default_dig_metal", "default_dug_metal*", "default_place_node_metal*"):
        _add(metal, f"{_MT_SOUND}{pattern}.ogg", metal_pics, "a metal block is struck")

    knock = SoundClass("wood_stone_knock", "strike")
    knock_pics = [f"{_MT_TEX}default_{t}.png" for t in ("wood", "tree", "stone", "cobble", "brick")]
    for pattern in ("default_dig_choppy*", "default_dig_cracky*", "default_place_node.*",
                    "default_place_node_hard*", "default_dug_node*", "default_dig_crumbly",
                    "default_dig_snappy", "default_tool_breaks*"):
        _add(knock, f"{_MT_SOUND}{pattern}.ogg", knock_pics, "a block of wood or stone is knocked")
    _add(knock, f"{TUXPAINT}/household/tools/hammer.ogg",
         [f"{TUXPAINT}/household/tools/hammer.png"] + knock_pics, "a hammer knocks")

    boom = SoundClass("explosion", "burst")
    boom_pics = [f"{MINETEST}/tnt/textures/tnt_side.png", f"{TUXPAINT}/naturalforces/explosion.png"]
    _add(boom, f"{MINETEST}/tnt/sounds/tnt_explode.ogg", boom_pics, "an explosion")
    _add(boom, f"{SONIC_PI}/misc_cineboom.flac", boom_pics, "a cinematic boom")
    _add(boom, f"{TUXPAINT}/seasonal/newyears/fireworks.ogg",
         [f"{TUXPAINT}/seasonal/newyears/fireworks.png"], "fireworks explode")
    _add(boom, f"{TUXPAINT}/naturalforces/lightningbolt.ogg",
         [f"{TUXPAINT}/naturalforces/lightningbolt.png"], "a lightning bolt and thunder")

    classes = [
        soft, hard, glass, door, drum, metal, knock, boom,
        _stamp_class("bird", ["animals/birds"]),
        _stamp_class("mammal", ["animals/mammals", "animals/marsupials"]),
        _stamp_class("insect_frog", ["animals/insects", "animals/amphibians"]),
        _stamp_class("household_machine", ["household", "vehicles", "space"]),
    ]
    # A thing's own machine sound only: household stamps include the glass and tools above.
    taken = {r.path for c in classes[:8] for r in c.recordings}
    classes[-1].recordings = [r for r in classes[-1].recordings if r.path not in taken]
    return [c for c in classes if len(c.recordings) >= 3]


# --- licences, read from each package's machine-readable debian/copyright ----------------------


@lru_cache(maxsize=8)
def _copyright_stanzas(package: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence) pairs in file order; later stanzas win (DEP-5)."""
    path = Path(f"/usr/share/doc/{package}/copyright")
    if not path.is_file():
        return []
    stanzas, patterns, in_files = [], [], False
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Files:"):
            patterns, in_files = line[6:].split(), True
        elif in_files and line.startswith((" ", "\t")) and not patterns[-1:] == ["License:"]:
            patterns += line.split()
        elif line.startswith("License:"):
            if patterns:
                stanzas.append((patterns, line[8:].strip()))
            patterns, in_files = [], False
        else:
            in_files = False
    return stanzas


def licence_of(path: str, package: str) -> str:
    """The licence debian/copyright gives the file (the last matching stanza wins, as in DEP-5)."""
    licence = "see /usr/share/doc/" + package + "/copyright"
    for patterns, lic in _copyright_stanzas(package):
        for pattern in patterns:
            # Patterns name the source tree ("mtg/mods/x/*", "etc/samples/y.flac"); match the
            # installed path on the pattern without its first folder.
            tail = pattern.split("/", 1)[1] if "/" in pattern else pattern
            if pattern == "*" or (tail != "*" and fnmatch.fnmatch(path, "*/" + tail)):
                licence = lic
    return licence
