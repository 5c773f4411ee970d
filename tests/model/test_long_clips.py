"""Long clips: every stage that grew with a clip's length runs a chunk at a time, and the sound is
the same number for number as when each stage ran on the whole clip at once."""

import numpy as np
import torch
import torch.nn.functional as F
from model_fixtures import tiny_config

from model import network, v2a_model
from model.network import motion_descriptor, motion_in_chunks
from model.v2a_model import V2AModel


def test_visual_features_are_pooled_a_chunk_at_a_time_as_from_the_whole(monkeypatch):
    model = V2AModel(tiny_config())
    frames = np.random.default_rng(1).integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    monkeypatch.setattr(v2a_model, "VISUAL_CHUNK_FRAMES", 64)
    chunked = model.prepare_visual(frames, 24.0)
    # The whole clip pooled in one go, as before the chunks.
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    whole = F.interpolate(video, size=(16, 16), mode="area").round().to(torch.uint8).permute(0, 2, 3, 1)
    assert torch.equal(chunked.sync_frames, whole)
    # Past the frames' end, the clip holds its last picture, as if it were repeated.
    held = model.prepare_visual(frames, 24.0, length=340)
    repeated = model.prepare_visual(np.concatenate([frames, np.repeat(frames[-1:], 40, axis=0)]), 24.0)
    assert torch.equal(held.sync_frames, repeated.sync_frames)
    assert torch.equal(held.semantic, repeated.semantic)


def test_motion_is_described_a_chunk_at_a_time_as_for_the_whole_clip(monkeypatch):
    frames = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8))
    monkeypatch.setattr(network, "MOTION_CHUNK_FRAMES", 7)
    assert torch.equal(motion_in_chunks(frames), motion_descriptor(frames[None])[0])
