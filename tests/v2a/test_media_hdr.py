"""HDR (PQ, HLG) and Rec. 2020 footage is seen as an editor's Rec. 709 viewer shows it.

Each test encodes one scene, given as light in units of SDR white in Rec. 709 primaries, as an
SDR Rec. 709 movie and as an HDR one, the way a camera would, and decodes both through the
frame reader: the pictures must agree.
"""

import av
import numpy as np
import pytest

from v2a.media import hdr
from v2a.media.frames import decode_frames_at

SIZE = 32
#: Four patches, each light in units of SDR white: dark grey, light grey, a red, a green.
PATCHES = np.array([[0.05, 0.05, 0.05], [0.6, 0.6, 0.6], [0.6, 0.05, 0.05], [0.08, 0.45, 0.08]])

_BT709 = {"luma": (0.2126, 0.0722), "tags": (1, 1, 1)}  # (Kr, Kb); (trc, primaries, matrix)
_BT2020 = {"luma": (0.2627, 0.0593)}


def scene(highlight: float | None = None) -> np.ndarray:
    """64x64 light: the four patches in quadrants (the last one replaced by a grey
    `highlight` times SDR white, where given)."""
    patches = PATCHES.copy()
    if highlight is not None:
        patches[3] = highlight
    light = np.empty((64, 64, 3))
    for index, (row, column) in enumerate([(0, 0), (0, 32), (32, 0), (32, 32)]):
        light[row : row + 32, column : column + 32] = patches[index]
    return light


def pq_signal(light: np.ndarray) -> np.ndarray:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    y = np.power(light * hdr.REFERENCE_WHITE_NITS / 10000, m1)
    return np.power((c1 + c2 * y) / (1 + c3 * y), m2)


def hlg_signal(light: np.ndarray) -> np.ndarray:
    """Light on a 1,000 cd/m² display back to the scene (inverse OOTF), then the HLG OETF."""
    display = light * hdr.REFERENCE_WHITE_NITS / 1000
    display_luminance = np.maximum(display @ np.array([0.2627, 0.6780, 0.0593]), 1e-9)
    scene_light = display / display_luminance[..., None] ** (0.2 / 1.2)
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    return np.where(
        scene_light <= 1 / 12,
        np.sqrt(3 * scene_light),
        a * np.log(np.maximum(12 * scene_light - b, 1e-9)) + c,
    )


def write_movie(path, signal: np.ndarray, luma: tuple[float, float], tags: tuple[int, int, int]):
    """One frame of 10-bit limited-range Y'CbCr 4:4:4 (lossless FFV1) from R'G'B' `signal`."""
    kr, kb = luma
    r, g, b = np.moveaxis(np.clip(signal, 0, 1), -1, 0)
    y = kr * r + (1 - kr - kb) * g + kb * b
    planes = [
        64 + 876 * y,
        512 + 896 * (b - y) / (2 * (1 - kb)),
        512 + 896 * (r - y) / (2 * (1 - kr)),
    ]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv444p10le"
        context = stream.codec_context  # the container's tags come from here, not the frame
        context.color_trc, context.color_primaries, context.colorspace = tags
        context.color_range = 1
        frame = av.VideoFrame(64, 64, "yuv444p10le")
        for plane, values in zip(frame.planes, planes, strict=True):
            row = plane.line_size // 2
            data = np.zeros((64, row), np.uint16)
            data[:, :64] = np.round(values)
            plane.update(data.tobytes())
        frame.color_trc, frame.color_primaries, frame.colorspace = tags
        frame.color_range, frame.pts = 1, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return str(path)


def sdr_movie(path, light: np.ndarray) -> str:
    return write_movie(path, np.clip(light, 0, 1) ** (1 / 2.4), **_BT709)


def hdr_movie(path, light: np.ndarray, curve: str) -> str:
    """As an HDR camera records the scene: Rec. 2020 primaries under the PQ or HLG curve (or,
    `sdr2020`, the SDR curve of a Rec. 2020 SDR deliverable)."""
    in_2020 = light @ np.linalg.inv(np.array(hdr._BT2020_TO_BT709, np.float64)).T
    signal, trc = {
        "pq": (pq_signal, 16), "hlg": (hlg_signal, 18), "sdr2020": (lambda x: x ** (1 / 2.4), 14)
    }[curve]
    return write_movie(path, signal(np.clip(in_2020, 0, None)), _BT2020["luma"], (trc, 9, 9))


def patch_levels(picture: np.ndarray) -> np.ndarray:
    """(4, 3) mean RGB levels at the centre of each quadrant."""
    half, pad = SIZE // 2, SIZE // 8
    return np.array(
        [
            picture[row + pad : row + half - pad, column + pad : column + half - pad].mean(
                axis=(0, 1)
            )
            for row, column in [(0, 0), (0, half), (half, 0), (half, half)]
        ]
    )


@pytest.mark.parametrize("curve", ["pq", "hlg", "sdr2020"])
def test_hdr_footage_looks_as_its_sdr_version_does(tmp_path, curve):
    light = scene()
    sdr = patch_levels(decode_frames_at(sdr_movie(tmp_path / "sdr.mkv", light), [0.0], SIZE)[0])
    path = hdr_movie(tmp_path / f"{curve}.mkv", light, curve)
    seen = patch_levels(decode_frames_at(path, [0.0], SIZE)[0])
    assert np.abs(seen - sdr).max() < 4, (seen.round(), sdr.round())
    # Read as if it were Rec. 709, the same file is far off: flat, and the red and green dull.
    naive = av.open(path)
    frame = next(naive.decode(video=0))
    as_709 = frame.reformat(SIZE, SIZE, format="rgb24", interpolation="AREA").to_ndarray()
    naive.close()
    assert np.abs(patch_levels(as_709) - sdr).max() > 30


def test_highlights_above_sdr_white_are_rolled_off_not_clipped(tmp_path):
    levels = []
    for highlight in (1.0, 2.5, 4.9):  # 203, 500 and 1,000 cd/m² in PQ
        path = hdr_movie(tmp_path / f"pq-{highlight}.mkv", scene(highlight), "pq")
        levels.append(patch_levels(decode_frames_at(path, [0.0], SIZE)[0])[3].mean())
    assert levels[0] < levels[1] < levels[2] <= 255
    assert levels[2] - levels[1] > 2  # still told apart, as a viewer's roll-off keeps them


def write_exr(path, light: np.ndarray) -> str:
    """A float EXR of linear light, as a render or a VFX plate holds it (1.0 is white)."""
    height, width, _ = light.shape
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("exr", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "gbrpf32le"
        frame = av.VideoFrame(width, height, "gbrpf32le")
        for plane, channel in zip(frame.planes, (1, 2, 0), strict=True):  # G, B, R planes
            data = np.zeros((height, plane.line_size // 4), np.float32)
            data[:, :width] = light[..., channel]
            plane.update(data.tobytes())
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return str(path)


def test_linear_light_exr_frames_look_as_their_sdr_version_does(tmp_path):
    light = scene()
    sdr = patch_levels(decode_frames_at(sdr_movie(tmp_path / "sdr.mkv", light), [0.0], SIZE)[0])
    seen = patch_levels(decode_frames_at(write_exr(tmp_path / "plate.exr", light), [0.0], SIZE)[0])
    assert np.abs(seen - sdr).max() < 4, (seen.round(), sdr.round())
    assert seen[1].mean() > 200  # light grey (0.6 of white), not the 153 of a linear read


def test_sdr_footage_is_left_to_the_plain_conversion(tmp_path):
    path = sdr_movie(tmp_path / "sdr.mkv", scene())
    with av.open(path) as container:
        assert not hdr.needs_conversion(next(container.decode(video=0)))


def test_the_curves_meet_the_standards_reference_points():
    """PQ: signal 0.5081, 0.5807 and 0.7518 are 100, 203 and 1,000 cd/m² (SMPTE ST 2084);
    HLG: 75 % signal is reference white, 203 cd/m², and 100 % the 1,000 cd/m² peak of the
    display it is graded for (ITU-R BT.2408)."""
    nits = hdr.pq_to_light(np.array([0.5081, 0.5807, 0.7518])) * hdr.REFERENCE_WHITE_NITS
    assert nits == pytest.approx([100, 203, 1000], rel=2e-3)
    grey = np.full((2, 3), [[0.75], [1.0]], np.float32)
    assert hdr.hlg_to_light(grey)[:, 0] * hdr.REFERENCE_WHITE_NITS == pytest.approx(
        [203, 1000], rel=2e-3)
