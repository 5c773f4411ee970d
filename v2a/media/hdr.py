"""HDR, wide-gamut and linear-light pictures seen as an editor's Rec. 709 viewer shows them.

Phones record HDR by default (an iPhone's HLG, Dolby Vision 8.4 on top of it) and cameras deliver
PQ and Rec. 2020. Converted to 8-bit RGB as if they were Rec. 709, such pictures come out flat and
grey (PQ puts SDR white near half signal) and washed out (Rec. 2020 primaries read as 709), which
is not what the editor looks at: Premiere tone-maps them into a Rec. 709 sequence by default,
Resolve under its colour management. The model and the result picture should see what the editor
sees, so such frames are converted here: the transfer curve undone to light, highlights above SDR
white rolled off, the primaries moved to Rec. 709 and the light encoded for a gamma 2.4 display
(BT.1886). EXR frames hold linear light (1.0 is white): converted as they were, mid grey (0.18)
came out at 46 of 255 instead of about 125, darker than any editor's viewer shows them.

Light is measured in units of SDR reference white: 203 cd/m² for PQ and for HLG at a 1,000
cd/m² peak (ITU-R BT.2408).
"""

from __future__ import annotations

import av
import numpy as np

# AVColorTransferCharacteristic: linear light, SMPTE ST 2084 (PQ), ARIB STD-B67 (HLG)
_LINEAR, _PQ, _HLG = 8, 16, 18
_BT2020_PRIMARIES = 9
#: cd/m² of SDR white in an HDR picture (BT.2408), and the peak HLG is graded for.
REFERENCE_WHITE_NITS = 203.0
_HLG_PEAK_NITS = 1000.0
#: Light up to this share of SDR white passes unchanged; above it, highlights up to the peak an
#: HDR grade usually uses (1,000 cd/m²) are compressed into what is left below white.
_KNEE = 0.75
_PEAK = _HLG_PEAK_NITS / REFERENCE_WHITE_NITS
_DISPLAY_GAMMA = 2.4
#: Rec. 2020 to Rec. 709 primaries, linear light (ITU-R BT.2087).
_BT2020_TO_BT709 = np.array(
    [
        [1.6605, -0.5876, -0.0728],
        [-0.1246, 1.1329, -0.0083],
        [-0.0182, -0.1006, 1.1187],
    ],
    np.float32,
)
_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593], np.float32)
_BT709_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def needs_conversion(frame: av.VideoFrame) -> bool:
    """Whether the frame is HDR (PQ, HLG), wide gamut (Rec. 2020 primaries) or linear light
    (an EXR render or plate) by its tags."""
    return (
        frame.color_trc in (_PQ, _HLG, _LINEAR) or frame.color_primaries == _BT2020_PRIMARIES
    )


def to_rec709_rgb(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """uint8 (height, width, 3): the frame scaled, tone-mapped and in Rec. 709 primaries.

    Scaling happens first, on the 16-bit signal (swscale reads the YUV matrix from the frame's
    tags), so the arithmetic below runs on the small picture only. Swscale clips float pixels
    to 0..1 as it scales, so linear light above white arrives as white: shown clipped, as an
    NLE's viewer shows an EXR without a view transform's roll-off.
    """
    signal = frame.reformat(width, height, format="rgb48le", interpolation="AREA").to_ndarray()
    signal = signal.astype(np.float32) / 65535.0
    wide = frame.color_primaries == _BT2020_PRIMARIES
    if frame.color_trc in (_PQ, _HLG):
        light = pq_to_light(signal) if frame.color_trc == _PQ else hlg_to_light(signal)
        light = roll_off_highlights(light, _BT2020_LUMA if wide else _BT709_LUMA)
    elif frame.color_trc == _LINEAR:
        light = signal
    else:  # Rec. 2020 primaries under an SDR curve: as a gamma 2.4 display shows it
        light = signal**_DISPLAY_GAMMA
    if wide:
        light = light @ _BT2020_TO_BT709.T
    encoded = np.clip(light, 0.0, 1.0) ** (1 / _DISPLAY_GAMMA)
    return np.round(encoded * 255.0).astype(np.uint8)


def pq_to_light(signal: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 signal (0..1) to light in units of SDR white."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    power = np.power(np.clip(signal, 0.0, 1.0), 1 / m2)
    nits = 10000.0 * np.power(np.maximum(power - c1, 0.0) / (c2 - c3 * power), 1 / m1)
    return nits / REFERENCE_WHITE_NITS


def hlg_to_light(signal: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 signal (0..1) to display light in units of SDR white, on the 1,000 cd/m²
    display HLG is graded for (system gamma 1.2, applied on the scene's Rec. 2020 luminance)."""
    a = 0.17883277
    b, c = 1 - 4 * a, 0.5 - a * np.log(4 * a)
    signal = np.clip(signal, 0.0, 1.0)
    scene = np.where(signal <= 0.5, signal**2 / 3, (np.exp((signal - c) / a) + b) / 12).astype(
        np.float32
    )
    luminance = np.maximum(scene @ _BT2020_LUMA, 1e-6)[..., None]
    return _HLG_PEAK_NITS * luminance**0.2 * scene / REFERENCE_WHITE_NITS


def roll_off_highlights(light: np.ndarray, luma_weights: np.ndarray) -> np.ndarray:
    """Compresses luminance above the knee so that the peak lands on SDR white, keeping each
    pixel's hue. The curve (Reinhard's, extended to a white point) has slope 1 at the knee, so
    no band shows there, and keeps highlights apart where a clip would make them one white."""
    luminance = light @ luma_weights
    over = np.maximum(luminance - _KNEE, 0.0) / (1 - _KNEE)
    white = (_PEAK - _KNEE) / (1 - _KNEE)
    compressed = _KNEE + (1 - _KNEE) * over * (1 + over / white**2) / (1 + over)
    mapped = np.where(luminance > _KNEE, np.minimum(compressed, 1.0), luminance)
    scale = np.where(luminance > 1e-6, mapped / np.maximum(luminance, 1e-6), 1.0)
    return light * scale[..., None]
