"""Where the corpus's recordings and pictures come from: installed Debian packages.

Each sound class lists its recordings (real recorded sounds) and the pictures that may be shown
making them, and how a clip is rendered: ``step`` (a foot lands on the material), ``strike``
(an object is hit), ``stamp`` (a picture moves with its sound's energy), ``burst`` (a flash).

With ``with_0ad``, the recordings of the game 0 A.D. (package ``0ad-data``, inside its
``public.zip``) join some classes as *training-only* extras: more animals, footsteps, chops and
strikes to learn from, while the validation and test splits stay exactly what they were.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from model.data.io import in_zip

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
#: Installed by scripts/setup-data.sh --with-0ad (1.4 GB download, 3.2 GB on disk). Its sound
#: files sit in one zip; a recording there is named as if the zip were a folder
#: (model.data.io.read_recording reads such paths).
ZERO_AD_PACKAGE = "0ad-data"
ZERO_AD = "/usr/share/games/0ad/mods/public/public.zip"
PACKAGES[ZERO_AD] = ZERO_AD_PACKAGE

_MT_SOUND = MINETEST + "/default/sounds/"
_MT_TEX = MINETEST + "/default/textures/"
_MT_DOOR = MINETEST + "/doors/"


@dataclass(frozen=True)
class Recording:
    path: str
    pictures: tuple[str, ...]  # what may be seen making this sound
    caption: str  # e.g. "footsteps on gravel"
    package: str
    train_only: bool = False  # an extra for training, never dealt to val or test


@dataclass
class SoundClass:
    name: str
    render: str  # "step", "strike", "stamp", "burst"
    recordings: list[Recording] = field(default_factory=list)


def missing_packages() -> list[str]:
    """Those of APT_PACKAGES whose files are not installed. Without one the corpus is another
    corpus (without sonic-pi-samples, 18 drum recordings instead of 72), so the build says so."""
    return [package for root, package in PACKAGES.items()
            if package in APT_PACKAGES and not os.path.isdir(root)]


def _package_of(path: str) -> str:
    for root, package in PACKAGES.items():
        if path.startswith(root):
            return package
    raise ValueError(f"{path} is not in a known package")


def _files(pattern: str) -> list[str]:
    """Sorted matches of a glob pattern; inside a zip too (model.data.io.in_zip's paths)."""
    zipped = in_zip(pattern)
    if zipped is None:
        return sorted(glob.glob(pattern))
    archive, member_pattern = zipped
    return [f"{archive}/{m}" for m in _zip_members(archive) if _glob_match(m, member_pattern)]


def _glob_match(path: str, pattern: str) -> bool:
    """`glob`'s rule for one path: a `*` stays inside its folder (plain fnmatch lets it cross
    `/`, so "audio/*.ogg" would match "audio/sub/x.ogg" in a zip but not on disk)."""
    names, parts = path.split("/"), pattern.split("/")
    return len(names) == len(parts) and all(fnmatch.fnmatchcase(n, p) for n, p in zip(names, parts, strict=True))


@lru_cache(maxsize=2)
def _zip_members(archive: str) -> tuple[str, ...]:
    with zipfile.ZipFile(archive) as handle:  # closed again: worker processes open their own
        return tuple(sorted(handle.namelist()))


def _add(cls: SoundClass, pattern: str, pictures: list[str], caption: str, take: int = 0,
         train_only: bool = False) -> None:
    """The recordings matching `pattern`, each shown with one of the installed `pictures`.

    `take` keeps that many, evenly spread over the sorted matches, where a library has many
    takes of one sound (0 A.D.'s 26 axe chops): so it does not outweigh a class's own.
    """
    pics = tuple(p for p in pictures if os.path.isfile(p))
    paths = _files(pattern) if pics else []
    if take and len(paths) > take:
        step = (len(paths) - 1) / max(take - 1, 1)
        paths = [paths[round(i * step)] for i in range(take)]
    for path in paths:
        cls.recordings.append(Recording(path, pics, caption, _package_of(path), train_only))


def _add_0ad(cls: SoundClass, pattern: str, pictures: list[str], caption: str,
             take: int = 0) -> None:
    """0 A.D. sounds matching `pattern` (under audio/ in its zip) as training-only extras."""
    _add(cls, f"{ZERO_AD}/audio/{pattern}", pictures, caption, take, train_only=True)


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


def discover_classes(with_0ad: bool = False) -> list[SoundClass]:
    """All classes whose material is installed, with at least 3 recordings each.

    `with_0ad` adds 0 A.D.'s recordings as training-only extras (see _add_zero_ad_extras).
    """
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
    if with_0ad:
        if not os.path.isfile(ZERO_AD):
            raise RuntimeError(f"{ZERO_AD} is missing; run: bash scripts/setup-data.sh --with-0ad "
                               f"(apt-get install -y {ZERO_AD_PACKAGE})")
        _add_zero_ad_extras({c.name: c for c in classes})
    return [c for c in classes if sum(not r.train_only for r in c.recordings) >= 3]


def _add_zero_ad_extras(classes: dict[str, SoundClass]) -> None:
    """0 A.D.'s recordings that fit a class, shown with a picture of the same thing.

    Stamp pictures are Tux Paint's pictures of the same animal; a picture that belongs to a
    validation or test recording is dropped from these extras when the splits are dealt
    (model.data.build.split_recordings), so training never shows a held-out picture.
    """
    tex = _MT_TEX + "default_{}.png"
    soft, hard = classes["footsteps_soft"], classes["footsteps_hard"]
    for material in ("grass", "gravel", "sand", "snow"):
        _add_0ad(soft, f"actor/singlesteps/fs_{material}*.ogg", [tex.format(material)],
                 f"footsteps on {material}", take=4)
    _add_0ad(hard, "actor/singlesteps/fs_rock*.ogg",
             [tex.format(t) for t in ("stone", "cobble", "brick")], "footsteps on stone", take=4)
    _add_0ad(hard, "actor/singlesteps/fs_wood*.ogg", [tex.format("wood")], "footsteps on wood")

    knock = classes["wood_stone_knock"]
    _add_0ad(knock, "resource/lumbering/lumber_tree_*.ogg", [tex.format(t) for t in ("tree", "wood")],
             "an axe chops wood", take=6)
    _add_0ad(knock, "resource/mining/mine_stone_*.ogg", [tex.format(t) for t in ("stone", "cobble")],
             "a pickaxe strikes stone", take=6)
    metal = classes["metal_strike"]
    _add_0ad(metal, "resource/mining/mine_metal_*.ogg",
             [tex.format("steel_block"), f"{TUXPAINT}/household/tools/mallet_metal.png"],
             "a pickaxe strikes metal", take=6)

    boom = classes["explosion"]
    _add_0ad(boom, "ambient/weather/thunder_*.ogg",
             [f"{TUXPAINT}/naturalforces/lightningbolt.png"], "thunder")
    _add_0ad(boom, "attack/destruction/explode_debris_*.ogg",
             [f"{MINETEST}/tnt/textures/tnt_side.png", f"{TUXPAINT}/naturalforces/explosion.png"],
             "an explosion throws debris")

    animals = f"{TUXPAINT}/animals/"
    bird, mammal = classes["bird"], classes["mammal"]
    for pattern, pictures, thing, take in [
        ("chicken_*", ["hen", "rooster", "chicken_profile"], "a chicken", 0),
        ("flamingo*", ["pink_flamingo"], "a flamingo", 0),
        ("peacock_call*", ["peacock", "albino_peahen"], "a peacock", 0),
    ]:
        _add_0ad(bird, f"actor/fauna/animal/{pattern}.ogg", [f"{animals}birds/{p}.png" for p in pictures],
                 f"the sound of {thing}", take)
    for pattern, pictures, thing, take in [
        ("cattle_*", ["bovines/cow", "bovines/cow_white", "bovines/bull"], "a cow", 0),
        ("camel_*", ["camel/camel", "camel/dromedary"], "a camel", 0),
        ("elephant_*", ["elephant"], "an elephant", 5),
        ("horse_*", ["equines/horse"], "a horse", 5),
        ("pig*", ["pig", "pig_golden", "pig_golden2", "wildboar"], "a pig", 0),
        ("sheep_*", ["bovines/sheep", "bovines/sheep_lamb", "bovines/ram"], "a sheep", 0),
        ("lion_*", ["cats/lion", "cats/lion-2"], "a lion", 0),
    ]:
        _add_0ad(mammal, f"actor/fauna/animal/{pattern}.ogg",
                 [f"{animals}mammals/{p}.png" for p in pictures], f"the sound of {thing}", take)


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
