"""Renders the picture of a corpus example so that what is seen causes what is heard.

Every sound event has a contact frame: the frame where a foot lands, a stick hits, a door
slams or a charge explodes. The audio event starts at exactly that frame's time, so motion and
sound agree to the frame. Backgrounds, scale, position, handheld shake and lighting vary per
example so a model has to key on motion and content, not on one rendering's pixels.
"""

from __future__ import annotations

import glob
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

FPS = 24
SIZE = 160
_PAD = 24  # canvas margin that camera shake can reveal
_CANVAS = SIZE + 2 * _PAD
_BACKGROUND_TEXTURES = "/usr/share/games/minetest/games/minetest_game/mods/default/textures/default_*.png"


@lru_cache(maxsize=256)
def _load_rgba(path: str) -> Image.Image:
    image = Image.open(path).convert("RGBA")
    if path.endswith(".png") and "/tuxpaint/" not in path and image.height > image.width * 1.5:
        image = image.crop((0, 0, image.width, image.width))  # animated strips: first tile
    return image


@lru_cache(maxsize=1)
def background_textures() -> tuple[str, ...]:
    """minetest-data's block textures that backgrounds are tiled from (CC-BY-SA: licenses.json
    lists every one, since any may appear in a video)."""
    return tuple(p for p in sorted(glob.glob(_BACKGROUND_TEXTURES))
                 if "_inv" not in p and "_item" not in p)


def _tiled(texture: Image.Image, scale: int, size: int) -> Image.Image:
    tile = texture.convert("RGB").resize((texture.width * scale, texture.height * scale),
                                         Image.NEAREST)
    out = Image.new("RGB", (size, size))
    for y in range(0, size, tile.height):
        for x in range(0, size, tile.width):
            out.paste(tile, (x, y))
    return out


def _background(rng: np.random.Generator) -> Image.Image:
    kind = rng.choice(["solid", "gradient", "texture"])
    if kind == "texture" and background_textures():
        paths = background_textures()
        image = _tiled(_load_rgba(paths[rng.integers(len(paths))]), int(rng.integers(3, 9)),
                       _CANVAS)
        return ImageEnhance.Brightness(image).enhance(rng.uniform(0.4, 0.9))
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    if kind == "solid":
        b = a
    ramp = np.linspace(0, 1, _CANVAS)[:, None, None]
    pixels = (a[None, None, :] * (1 - ramp) + b[None, None, :] * ramp).repeat(_CANVAS, axis=1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _shake(rng: np.random.Generator, frames: int, contacts: list[int],
           jolt: float) -> np.ndarray:
    """(frames, 2) pixel offsets: smooth handheld drift plus a decaying jolt at each contact."""
    amplitude = rng.choice([0.0, rng.uniform(0.3, 2.5)])
    walk = np.cumsum(rng.normal(0, 1, (frames, 2)), axis=0)
    walk -= walk.mean(axis=0)
    walk *= amplitude / (np.abs(walk).max() + 1e-9)
    direction = rng.normal(0, 1, 2)
    direction /= np.linalg.norm(direction) + 1e-9
    for k in contacts:
        after = np.arange(frames) - k
        decay = np.where(after >= 0, np.exp(-after / 2.0) * np.cos(after * 1.9), 0.0)
        walk += jolt * decay[:, None] * direction[None, :]
    return np.clip(walk, -_PAD + 1, _PAD - 1)


def _lighting(rng: np.random.Generator) -> np.ndarray:
    """A per-example (SIZE, SIZE, 3) gain: overall exposure, colour tint and a light falloff."""
    gain = rng.uniform(0.55, 1.25) * rng.uniform(0.85, 1.15, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE - 0.5
    falloff = 1.0 - rng.uniform(0, 0.45) * (0.5 + xx * np.cos(angle) + yy * np.sin(angle))
    return (falloff[..., None] * gain[None, None, :]).astype(np.float32)


def _approach(frame: int, contact: int, lead: int) -> float:
    """Distance still to travel: 1 `lead` frames before contact, 0 at contact, -1 outside.

    It falls like a dropped object: slow at first, fastest on the contact frame, so the
    frame-to-frame change (what a motion detector sees) peaks where the sound starts.
    """
    if frame > contact or frame < contact - lead:
        return -1.0
    s = (contact - frame) / lead
    return 2 * s - s * s


def _since(frame: int, contacts: list[int]) -> int | None:
    past = [frame - k for k in contacts if k <= frame]
    return min(past) if past else None


class _Particles:
    """Dust or shards thrown from contact points; drawn as small squares."""

    def __init__(self) -> None:
        self.items: list[tuple[int, float, float, float, float, tuple, int]] = []

    def spawn(self, rng, frame, x, y, colour, count, speed, size):
        for _ in range(count):
            angle = rng.uniform(np.pi, 2 * np.pi) if rng.random() < 0.8 else rng.uniform(0, np.pi)
            v = rng.uniform(0.3, 1.0) * speed
            life = int(rng.integers(5, 12))  # staggered, so they do not all vanish at once
            self.items.append((frame, x, y, v * np.cos(angle), v * np.sin(angle), colour, size,
                               life))

    def draw(self, draw: ImageDraw.ImageDraw, frame: int) -> None:
        for born, x, y, vx, vy, colour, size, life in self.items:
            age = frame - born
            if 0 <= age < life:
                px, py = x + vx * age, y + vy * age + 0.4 * age * age
                s = size
                draw.rectangle([px - s, py - s, px + s, py + s], fill=tuple(colour) + (255,))


def _translucent_ellipse(canvas: Image.Image, box: tuple, rgba: tuple) -> None:
    """(cx, cy, w, h) blended over the canvas (ImageDraw alone would replace the pixels)."""
    x, y, w, h = box
    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    ImageDraw.Draw(layer).ellipse([x - w / 2, y - h / 2, x + w / 2, y + h / 2], fill=rgba)
    canvas.alpha_composite(layer)


def _mean_colour(image: Image.Image) -> tuple[int, int, int]:
    pixels = np.asarray(image.convert("RGBA"), np.float32).reshape(-1, 4)
    opaque = pixels[pixels[:, 3] > 128, :3]
    colour = opaque.mean(axis=0) if len(opaque) else np.array([128, 128, 128])
    return tuple(int(c) for c in np.clip(colour * 1.2 + 20, 0, 255))


def _object(picture: str, rng: np.random.Generator, lo: int, hi: int) -> Image.Image:
    image = _load_rgba(picture)
    target = int(rng.integers(lo, hi))
    scale = target / max(image.width, image.height)
    resample = Image.NEAREST if max(image.size) <= 32 else Image.BILINEAR
    image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))),
                         resample)
    if rng.random() < 0.5:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


def _paste(canvas: Image.Image, image: Image.Image, cx: float, cy: float,
           sx: float = 1.0, sy: float = 1.0, bright: float = 1.0, alpha: float = 1.0) -> None:
    if alpha <= 0:
        return
    w, h = max(1, int(image.width * sx)), max(1, int(image.height * sy))
    if (w, h) != image.size:
        image = image.resize((w, h), Image.BILINEAR)
    if bright != 1.0 or alpha < 1.0:
        rgb = ImageEnhance.Brightness(image.convert("RGB")).enhance(bright)
        rgb.putalpha(image.getchannel("A").point(lambda v: int(v * min(1.0, alpha))))
        image = rgb
    canvas.alpha_composite(image, (int(cx - w / 2), int(cy - h / 2)))


def render(kind: str, picture: str, contacts: list[int], energy: np.ndarray,
           frames: int, rng: np.random.Generator, variant: str = "") -> np.ndarray:
    """uint8 (frames, SIZE, SIZE, 3). `energy` is the audio's per-frame loudness in [0, 1]."""
    contacts = sorted(contacts)
    particles = _Particles()
    shake = _shake(rng, frames, contacts if kind != "stamp" else [],
                   jolt=rng.uniform(1.0, 4.0) if kind != "burst" else rng.uniform(4, 9))
    light = _lighting(rng)
    scene = _SCENES[kind](picture, contacts, energy, rng, particles, variant)
    out = np.empty((frames, SIZE, SIZE, 3), np.uint8)
    for f in range(frames):
        canvas = scene(f)
        particles.draw(ImageDraw.Draw(canvas), f)
        dx, dy = shake[f]
        x0, y0 = int(round(_PAD + dx)), int(round(_PAD + dy))
        rgb = np.asarray(canvas.convert("RGB"), np.float32)[y0:y0 + SIZE, x0:x0 + SIZE]
        out[f] = np.clip(rgb * light, 0, 255).astype(np.uint8)
    return out


# --- scenes: each returns a function frame -> RGBA canvas of _CANVAS pixels ------------------


def _step_scene(picture, contacts, energy, rng, particles, variant):
    """Top-down: a walker's feet land on the material, one per footstep sound."""
    ground = _tiled(_load_rgba(picture), int(rng.integers(3, 9)), _CANVAS + 64).convert("RGBA")
    dust = _mean_colour(ground)
    shoe = tuple(int(c) for c in rng.integers(10, 90, 3)) + (255,)
    foot_w, foot_h = int(rng.integers(16, 26)), int(rng.integers(30, 44))
    lead = int(rng.integers(3, 6))
    scroll = rng.uniform(0, 0.6)
    x_mid = _CANVAS / 2 + rng.uniform(-30, 30)
    spots = []
    for i in range(len(contacts)):
        side = 1 if i % 2 else -1
        spots.append((x_mid + side * rng.uniform(12, 20), _CANVAS * 0.5 + rng.uniform(-25, 25)))
    spawned: set[int] = set()
    soft = variant == "footsteps_soft" and "water" not in picture

    def scene(f: int) -> Image.Image:
        offset = int(scroll * f)
        canvas = ground.crop((0, 64 - offset % 64, _CANVAS, 64 - offset % 64 + _CANVAS))
        for i, k in enumerate(contacts):
            x, y = spots[i]
            y += offset - int(scroll * k)
            nxt = contacts[i + 1] if i + 1 < len(contacts) else k + 12
            hold = min(nxt - k + 2, 12)
            a = _approach(f, k, lead)
            if f == k and i not in spawned:
                spawned.add(i)
                particles.spawn(rng, f, x, y + foot_h / 2, dust, 10, 4.0, 2)
            if k <= f and soft:  # the footprint stays in soft ground
                _translucent_ellipse(canvas, (x, y, foot_w, foot_h), (0, 0, 0, 70))
            lift_frames = 8
            if a >= 0 or k <= f <= k + hold + lift_frames:
                lift = a if a >= 0 else ((max(0, f - k - hold)) / lift_frames) ** 2
                # It comes into view as it descends (no popping in), fades as it lifts away.
                fade = 1.0 - a if a >= 0 else 1.0 - max(0, f - k - hold) / lift_frames
                grow = 1 + (0.9 if a >= 0 else 0.4) * lift
                w, h = foot_w * grow, foot_h * grow
                sx, sy = x + 10 * lift, y + 14 * lift  # the shadow stays on the ground
                layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
                layer_draw = ImageDraw.Draw(layer)
                layer_draw.ellipse([sx - w / 2, sy - h / 2, sx + w / 2, sy + h / 2],
                                   fill=(0, 0, 0, int(90 * fade)))
                layer_draw.ellipse([x - w / 2, y - h / 2, x + w / 2, y + h / 2],
                                   fill=shoe[:3] + (int(255 * fade),))
                canvas.alpha_composite(layer)
        return canvas

    return scene


def _strike_scene(picture, contacts, energy, rng, particles, variant):
    """An object on a background is hit by a stick (or a door slams) at each contact."""
    background = _background(rng).convert("RGBA")
    thing = _object(picture, rng, 50, 100)
    cx, cy = _CANVAS / 2 + rng.uniform(-25, 25), _CANVAS / 2 + rng.uniform(-10, 30)
    colour = _mean_colour(thing)
    stick = tuple(int(c) for c in rng.integers(40, 200, 3)) + (255,)
    stick_w, travel = int(rng.integers(6, 12)), rng.uniform(40, 80)
    lead = int(rng.integers(3, 7))
    door = variant == "door"
    shatter = variant == "glass_break"
    spawned: set[int] = set()

    def scene(f: int) -> Image.Image:
        canvas = background.copy()
        draw = ImageDraw.Draw(canvas)
        since = _since(f, contacts)
        response = np.exp(-since / 2.0) if since is not None else 0.0
        for k in contacts:
            if f == k and k not in spawned:
                spawned.add(k)
                top = cy - thing.height / 2
                particles.spawn(rng, f, cx, top, colour, 10 if shatter else 8,
                                4.0 if shatter else 3.5, 2 if shatter else 1)
        upcoming = [_approach(f, k, lead) for k in contacts if _approach(f, k, lead) >= 0]
        if door:
            # The door swings shut, fastest as it slams flat at contact, then drifts open again.
            closing = upcoming[0] if upcoming else 1.0
            reopening = min(1.0, (since / 12) ** 2) if since is not None else 1.0
            swing = min(closing, reopening)
            _paste(canvas, thing, cx, cy, sx=max(0.15, np.cos(swing * 1.2)),
                   sy=1.0 - 0.04 * response, bright=1.0 + 0.25 * response)
            return canvas
        if shatter and since is not None and since < 3:  # the glass bursts in a white flash
            size = max(thing.size) * (1.1 + 0.3 * since)
            _translucent_ellipse(canvas, (cx, cy, size, size),
                                 (255, 255, 255, int(230 * np.exp(-since))))
        hidden = shatter and since is not None and since < 6
        if not hidden:  # a new glass fades in after one shatters
            fade = 1.0 if not (shatter and since is not None) else min(1.0, (since - 5) / 10)
            _paste(canvas, thing, cx, cy + 4 * response, sx=1 + 0.06 * response,
                   sy=1 - 0.14 * response, bright=1.0 + 0.4 * response, alpha=fade)
        # The stick falls onto the object, then eases slowly back up to where it hovers; the
        # lower of the two keeps its path continuous when hits come close together.
        falling = upcoming[0] if upcoming else 1.0
        rising = (1 - np.cos(np.pi * min(1.0, since / 24))) / 2 if since is not None else 1.0
        d = travel * min(falling, rising)
        tip = cy - thing.height / 2 - d
        draw.rectangle([cx - stick_w / 2, tip - 70, cx + stick_w / 2, tip], fill=stick)
        return canvas

    return scene


def _burst_scene(picture, contacts, energy, rng, particles, variant):
    """A charge (or a bolt) goes off: a flash and a growing fireball at each contact."""
    background = _background(rng).convert("RGBA")
    thing = _object(picture, rng, 40, 80)
    cx, cy = _CANVAS / 2 + rng.uniform(-20, 20), _CANVAS / 2 + rng.uniform(-10, 25)
    fire = (255, int(rng.integers(120, 220)), 40)

    def scene(f: int) -> Image.Image:
        canvas = background.copy()
        since = _since(f, contacts)
        if since is None or since > 10:  # the next charge fades in, it does not pop up
            _paste(canvas, thing, cx, cy, alpha=1.0 if since is None else (since - 10) / 12)
        if since is not None and since < 24:
            r = 10 + 9 * since
            _translucent_ellipse(canvas, (cx, cy, 2 * r, 2 * r),
                                 fire + (int(255 * np.exp(-since / 4)),))
            if since < 4:
                flash = Image.new("RGBA", canvas.size, (255, 255, 230, int(230 * np.exp(-since))))
                canvas.alpha_composite(flash)
        return canvas

    return scene


def _stamp_scene(picture, contacts, energy, rng, particles, variant):
    """A stamp picture that swells, hops and brightens with its own sound's loudness."""
    background = _background(rng).convert("RGBA")
    thing = _object(picture, rng, 60, 110)
    x0, y0 = _CANVAS / 2 + rng.uniform(-25, 25), _CANVAS / 2 + rng.uniform(-15, 20)
    drift = rng.uniform(-0.4, 0.4, 2)
    swell, hop = rng.uniform(0.15, 0.35), rng.uniform(6, 16)

    def scene(f: int) -> Image.Image:
        canvas = background.copy()
        e = float(energy[min(f, len(energy) - 1)])
        _paste(canvas, thing, x0 + drift[0] * f, y0 + drift[1] * f - hop * e,
               sx=1 + swell * e, sy=1 + swell * e, bright=1.0 + 0.3 * e)
        return canvas

    return scene


_SCENES = {"step": _step_scene, "strike": _strike_scene, "burst": _burst_scene,
           "stamp": _stamp_scene}
