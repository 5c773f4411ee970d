"""The trained model behind the Generator seam: registry spec, params, provenance."""

import hashlib

import torch
from model_fixtures import moving_frames, tiny_config

from model.generators import load_generator
from model.v2a_model import V2AModel
from v2a.contracts import SAMPLE_RATE, GenerationParams


def test_registry_loads_a_checkpoint_and_the_generator_keeps_its_promises(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    V2AModel(tiny_config()).save(str(path), info={"step": 1})
    generator = load_generator(f"v2a:{path}")
    assert generator.frame_rate == 24.0 and generator.frame_size == 32
    params = GenerationParams(prompt="a dog barks", negative_prompt="music", seed=5, steps=3, cfg_strength=2.0)
    steps = []
    out = generator.generate(moving_frames(12), 24.0, SAMPLE_RATE // 2 + 1, params,
                             progress=lambda done, total: steps.append((done, total)))
    assert out.shape == (SAMPLE_RATE // 2 + 1,)
    assert steps[-1] == (3, 3)
    provenance = generator.provenance()
    assert provenance["checkpoint_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert provenance["trained"] == {"step": 1} and provenance["generator"] == "v2a-flow"
    # Every sampler setting that shapes the sound is on record with the take.
    sampler = tiny_config().sampler
    assert provenance["default_prompt_strength"] == sampler.prompt_strength
    assert provenance["guidance_interval"] == [sampler.guidance_from, sampler.guidance_until]
    assert provenance["noise_churn"] == sampler.noise_churn and provenance["time_shift"] == sampler.time_shift
