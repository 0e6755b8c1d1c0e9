"""The contrastive model (tasks/pretrain/model.py): masks honoured, fusions, text freeze modes, a toy task learnt."""
from __future__ import annotations

import copy
import math
import time

import pytest
import torch
import torch.nn.functional as F

from tasks.pretrain.config import MODALITIES, PRESETS, PretrainModelConfig, SignalShapes, TextConfig, text_model_path
from tasks.pretrain.loss import make_loss
from tasks.pretrain.model import SignalEncoder, TextTower, build_model, param_groups

# frames and IMU steps not multiples of the patches (4 frames, 10 samples): the towers pad internally
SHAPES = SignalShapes(range_bins=16, doppler_bins=16, angle_bins=16, n_frames=22, max_points=8, imu_steps=55,
                      n_sites=2)
HIDDEN = 384  # all-MiniLM-L6-v2


def make_batch(n: int, seed: int = 0, shapes: SignalShapes = SHAPES) -> dict[str, torch.Tensor]:
    """Random signals with padding: sample 0 ends early, sample 1 starts late, sample 2 lost its second IMU site."""
    g = torch.Generator().manual_seed(seed)
    F_, T = shapes.n_frames, shapes.imu_steps
    batch = {view: torch.randn(n, shapes.bins(view), F_, generator=g) for view in MODALITIES[:3]}
    batch["frame_mask"] = torch.ones(n, F_, dtype=torch.bool)
    batch["points"] = torch.randn(n, F_, shapes.max_points, 5, generator=g)
    batch["points_mask"] = torch.rand(n, F_, shapes.max_points, generator=g) < 0.6
    batch["imu"] = torch.randn(n, T, shapes.n_sites, 6, generator=g)
    batch["imu_mask"] = torch.ones(n, T, dtype=torch.bool)
    batch["site_mask"] = torch.ones(n, shapes.n_sites, dtype=torch.bool)
    batch["frame_mask"][0, 15:] = False
    batch["frame_mask"][1, :6] = False
    batch["imu_mask"][0, 37:] = False
    batch["imu_mask"][1, :15] = False
    batch["site_mask"][2, 1] = False
    for key in MODALITIES[:3]:  # what data.window does: padded frames hold zeros
        batch[key] *= batch["frame_mask"][:, None, :]
    batch["points_mask"] &= batch["frame_mask"][..., None]
    return batch


def model_for(**encoder):
    text = encoder.pop("text", {})
    loss = encoder.pop("loss", "clip")
    return build_model(PretrainModelConfig.model_validate({"encoder": encoder, "text": text, "loss": loss}), SHAPES)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return model_for()


def step_grads(model, batch, texts) -> None:
    """One forward and loss backward, as the train loop does."""
    out = model(batch, texts)
    n = out["signal_features"].shape[0]
    make_loss("siglip" if model.logit_bias.requires_grad else "clip")(
        out["signal_features"], out["text_features"], out["logit_scale"], out["logit_bias"],
        torch.eye(n, dtype=torch.bool)).backward()


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_a_preset_builds_and_embeds(preset):
    model = build_model(PretrainModelConfig(preset=preset), SHAPES).eval()
    with torch.no_grad():
        out = model.signal(make_batch(3))
    assert out["embedding"].shape == (3, HIDDEN) and set(out["pooled"]) == set(MODALITIES)
    print(f"{preset}: signal encoder {n_params(model.signal_encoder):,} parameters")
    width, depth = PRESETS[preset].get("width", 64), PRESETS[preset].get("depth", 2)
    assert model.signal_encoder.towers["imu"].blocks.layers[0].linear1.out_features == 4 * width
    assert len(model.signal_encoder.towers["imu"].blocks.layers) == depth


def test_the_base_preset_is_vit_b_sized():
    cfg = PretrainModelConfig(preset="base")
    with torch.device("meta"):  # 400M+ parameters: count them without allocating
        encoder = SignalEncoder(cfg.encoder, SHAPES)
    w = 768
    # a pre-norm block: attention 4w^2 + 4w, MLP 8w^2 + 5w, two LayerNorms 4w
    per_block = 12 * w * w + 13 * w
    blocks = sum(n_params(t.blocks) for t in encoder.towers.values())
    assert blocks == len(MODALITIES) * 12 * per_block
    print(f"base: signal encoder {n_params(encoder):,} parameters")


def test_embeddings_are_unit_norm(tiny):
    out = tiny.signal(make_batch(4))
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(4), atol=1e-5)
    for emb in out["pooled"].values():
        assert torch.allclose(emb.norm(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(tiny.encode_signal(make_batch(4)), out["embedding"])


def perturb_padding(batch: dict[str, torch.Tensor], seed: int = 1) -> dict[str, torch.Tensor]:
    """Large values in every masked frame, point, IMU sample and dropped site."""
    g = torch.Generator().manual_seed(seed)
    out = dict(batch)
    frames = ~batch["frame_mask"]
    for view in MODALITIES[:3]:
        out[view] = batch[view] + 1e3 * torch.randn(batch[view].shape, generator=g) * frames[:, None, :]
    points = ~(batch["points_mask"] & batch["frame_mask"][..., None])
    out["points"] = batch["points"] + 1e3 * torch.randn(batch["points"].shape, generator=g) * points[..., None]
    samples = ~(batch["imu_mask"][:, :, None] & batch["site_mask"][:, None, :])
    out["imu"] = batch["imu"] + 1e3 * torch.randn(batch["imu"].shape, generator=g) * samples[..., None]
    return out


@pytest.mark.parametrize("training", [False, True])
def test_values_under_the_masks_do_not_change_the_embedding(tiny, training):
    tiny.train(training)
    batch = make_batch(4)
    with torch.no_grad():
        clean, noisy = tiny.signal(batch), tiny.signal(perturb_padding(batch))
        real = dict(batch)
        real["imu"] = batch["imu"].clone()
        real["imu"][2, :, 0] += 1.0  # a real sample of a kept site
        moved = tiny.signal(real)
    tiny.eval()
    assert torch.allclose(clean["embedding"], noisy["embedding"], atol=1e-5)
    for m in MODALITIES:
        assert torch.allclose(clean["pooled"][m], noisy["pooled"][m], atol=1e-5), m
    # the control: a real value does move its sample's embedding, and only that sample's
    assert not torch.allclose(clean["pooled"]["imu"][2], moved["pooled"]["imu"][2], atol=1e-3)
    assert torch.allclose(clean["embedding"][:2], moved["embedding"][:2], atol=1e-6)


def test_padded_tokens_and_dropped_sites_are_left_out(tiny):
    """Tokens of padding and of a dropped site take no part: their positions and site embeddings do not matter."""
    batch, g = make_batch(4), torch.Generator().manual_seed(2)

    def changed(modality: str, table: str, rows: slice | int) -> dict[str, torch.Tensor]:
        model = copy.deepcopy(tiny)
        weight = getattr(model.signal_encoder.towers[modality].tokens, table).weight
        with torch.no_grad():  # a random change: a constant over the channels would vanish in the LayerNorms
            weight[rows] += torch.randn(weight[rows].shape, generator=g)
            return model.signal(batch)["pooled"][modality]

    with torch.no_grad():
        before = tiny.signal(batch)["pooled"]
    # sample 0: frames 15.. padded = patches 4, 5 of 4 frames; IMU samples 37.. = patches 4, 5 of 10 samples;
    # sample 2 lost site 1; sample 3 is real throughout and sees every changed table (the control)
    for modality, table, rows, sample in (("range_time", "pos", slice(4, None), 0), ("imu", "pos", slice(4, None), 0),
                                          ("imu", "site", 1, 2)):
        after = changed(modality, table, rows)
        assert torch.allclose(before[modality][sample], after[sample], atol=1e-5), (modality, table)
        assert not torch.allclose(before[modality][3], after[3], atol=1e-3), (modality, table)


def test_a_sample_with_nothing_real_gives_finite_output_and_gradients(tiny):
    batch = make_batch(4)
    for key in ("frame_mask", "points_mask", "imu_mask", "site_mask"):
        batch[key][0] = False
    with torch.no_grad():  # the inference fast path of the transformer layers too
        out = tiny.signal(batch)
    assert torch.isfinite(out["embedding"]).all() and all(torch.isfinite(e).all() for e in out["pooled"].values())
    tiny.train()
    tiny.zero_grad()
    out = tiny.signal(batch)
    assert torch.isfinite(out["embedding"]).all() and all(torch.isfinite(e).all() for e in out["pooled"].values())
    step_grads(tiny, batch, torch.randn(4, HIDDEN))
    assert all(torch.isfinite(p.grad).all() for p in tiny.parameters() if p.grad is not None)
    tiny.eval()


@pytest.mark.parametrize("fusion", ["add", "concat", "attention"])
@pytest.mark.parametrize("loss", ["clip", "siglip"])
def test_every_trainable_parameter_gets_a_gradient(fusion, loss):
    """DDP waits for a gradient of every trainable parameter: forward must use them all."""
    model = model_for(fusion=fusion, loss=loss).train()
    step_grads(model, make_batch(4), torch.randn(4, HIDDEN))
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    out = model.signal(make_batch(4))
    assert torch.allclose(out["embedding"].norm(dim=1), torch.ones(4), atol=1e-5)
    if fusion == "add":  # the sum of the unit per-modality embeddings, normalised
        total = sum(out["pooled"].values())
        assert torch.allclose(out["embedding"], F.normalize(total, dim=1), atol=1e-6)


def test_a_subset_of_modalities_needs_only_its_inputs():
    model = model_for(modalities=["imu", "range_time"], fusion="concat").eval()
    batch = {k: v for k, v in make_batch(3).items() if k in ("range_time", "frame_mask", "imu", "imu_mask",
                                                             "site_mask")}
    with torch.no_grad():
        out = model.signal(batch)
    assert list(out["pooled"]) == ["imu", "range_time"] and out["embedding"].shape == (3, HIDDEN)
    assert set(model.signal_encoder.towers) == {"imu", "range_time"}


def test_logit_scale_and_bias_start_where_clip_and_siglip_do_and_the_scale_is_capped():
    clip, siglip = model_for(), model_for(loss="siglip")
    assert not clip.logit_bias.requires_grad and siglip.logit_bias.requires_grad
    with torch.no_grad():
        out = clip(make_batch(3), torch.randn(3, HIDDEN))
        assert float(out["logit_scale"]) == pytest.approx(1 / 0.07, rel=1e-5) and float(out["logit_bias"]) == 0.0
        out = siglip(make_batch(3), torch.randn(3, HIDDEN))
        assert float(out["logit_scale"]) == pytest.approx(10.0, rel=1e-5) and float(out["logit_bias"]) == -10.0
        siglip.logit_scale.fill_(math.log(1e4))
        assert float(siglip(make_batch(3), torch.randn(3, HIDDEN))["logit_scale"]) == pytest.approx(100.0)


FREEZE_TRAINS = {  # trainable parameters of the text tower under each freeze mode (MiniLM: 6 layers)
    "frozen": lambda name: False,
    "projection": lambda name: name.startswith("proj."),
    "last_n": lambda name: name.startswith(("proj.", "backbone.encoder.layer.4.", "backbone.encoder.layer.5.")),
    "full": lambda name: not name.startswith("backbone.pooler."),  # mean pooling does not use BERT's pooler
}


@pytest.mark.parametrize("freeze", list(FREEZE_TRAINS))
def test_text_freeze_modes_train_the_right_parameters(freeze):
    model = model_for(text={"freeze": freeze, "last_n": 2}, **({} if freeze == "frozen" else {"embed_dim": 32}))
    names = [name for name, _ in model.text.named_parameters()]
    trains = {name for name, p in model.text.named_parameters() if p.requires_grad}
    assert trains == {name for name in names if FREEZE_TRAINS[freeze](name)}
    assert model.text.trains_transformer == (freeze in ("last_n", "full"))
    model.train()
    assert model.text.backbone.training == model.text.trains_transformer  # a frozen backbone has no dropout
    texts = ["a person walks forward.", "someone waves both hands.", "a person sits down slowly."]
    assert model.text.pooled_features(texts).requires_grad == model.text.trains_transformer
    step_grads(model, make_batch(3), texts)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    assert all(p.grad is None for p in model.text.parameters() if not p.requires_grad)


def test_frozen_text_matches_sentence_transformers_and_truncates():
    from sentence_transformers import SentenceTransformer

    texts = ["a person walks in a circle.", "someone jumps twice", "the person sits down and then stands up."]
    tower = TextTower(TextConfig(), HIDDEN)
    reference = SentenceTransformer(text_model_path(None), device="cpu").encode(texts, convert_to_tensor=True,
                                                                               normalize_embeddings=True)
    pooled = tower.pooled_features(texts, batch_size=2)  # batches of 2 pad differently from one batch of 3
    assert torch.allclose(tower(texts), reference, atol=1e-5) and torch.allclose(tower(pooled), reference, atol=1e-5)
    assert not torch.allclose(pooled.norm(dim=1), torch.ones(3), atol=1e-2)  # pooled features are not normalised
    short = TextTower(TextConfig(max_tokens=4), HIDDEN)  # [CLS] + 2 tokens + [SEP]
    assert torch.allclose(short.pooled_features(["a person walks slowly."]), short.pooled_features(["a person"]),
                          atol=1e-6)


def test_param_groups_decay_only_weight_matrices():
    model = model_for(fusion="attention", loss="siglip", text={"freeze": "projection"}, embed_dim=32)
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    ids = {id(p) for p in decay["params"]}, {id(p) for p in no_decay["params"]}
    assert not ids[0] & ids[1]
    assert ids[0] | ids[1] == {id(p) for p in model.parameters() if p.requires_grad}  # frozen backbone left out
    names = {id(p): name for name, p in model.named_parameters()}
    decayed = {names[i] for i in ids[0]}
    assert "text.proj.weight" in decayed and "signal_encoder.fusion.attn.in_proj_weight" in decayed
    assert "signal_encoder.towers.imu.blocks.layers.0.linear1.weight" in decayed
    assert all(p.ndim >= 2 for p in decay["params"])
    plain = {names[i] for i in ids[1]}
    assert {"logit_scale", "logit_bias", "signal_encoder.towers.imu.tokens.pos.weight",
            "signal_encoder.towers.imu.tokens.site.weight", "signal_encoder.fusion.modality.weight",
            "signal_encoder.towers.points.norm.weight", "text.proj.bias"} <= plain
    assert torch.optim.AdamW([decay, no_decay], lr=1e-3)


def toy_batch(n: int, seed: int, classes: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Class k lights range bins 4k..4k+3 in every real frame; everything else is noise."""
    batch = make_batch(n, seed)
    labels = torch.randint(classes, (n,), generator=torch.Generator().manual_seed(seed))
    pattern = torch.zeros(classes, SHAPES.range_bins)
    for k in range(classes):
        pattern[k, 4 * k:4 * k + 4] = 2.0
    batch["range_time"] = (batch["range_time"] + pattern[labels][:, :, None]) * batch["frame_mask"][:, None, :]
    return batch, labels


def test_the_toy_task_is_learnt():
    classes, steps = 4, 40
    torch.manual_seed(0)
    model = model_for()  # tiny, frozen text
    captions = [f"class {k}" for k in range(classes)]
    bank = model.text.pooled_features(captions)
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=2e-3)
    loss_fn = make_loss("clip")
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        batch, labels = toy_batch(32, 100 + step, classes)
        out = model(batch, bank[labels])
        loss = loss_fn(out["signal_features"], out["text_features"], out["logit_scale"], out["logit_bias"],
                       labels[:, None] == labels[None, :])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    batch, labels = toy_batch(64, 999, classes)
    with torch.no_grad():
        predicted = (model.encode_signal(batch) @ model.text(bank).T).argmax(dim=1)
    accuracy = float((predicted == labels).float().mean())
    print(f"toy task: {steps} steps in {seconds:.1f} s, held-out top-1 {accuracy:.2f}, final loss {loss.item():.3f}")
    assert accuracy >= 0.9
