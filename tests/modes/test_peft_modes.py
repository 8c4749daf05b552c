"""lora / qlora (through peft), bottleneck adapters, and layer-wise training, beyond the contract suite:
the peft artifact outside promptlearn, export --merge, the adapter formula, every BERT-family layout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForMaskedLM

from promptlearn import api
from promptlearn.backbone.bottleneck import Adapter
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import MODES, get_mode
from promptlearn.modes.options import parse_mode_options
from tests.helpers.modes import declared_names, tiny_config

LABELS = ["positive", "negative"]
ARCHS = ["bert", "roberta", "distilbert", "albert", "electra"]


def _train_lora(model_dir, task_dir, run_dir, **options):
    api.train(tiny_config(model_dir, task_dir, "lora", max_steps=6, mode_options={"r": 4, **options}), run_dir)
    return api.load_run(run_dir)


def _cloze_probabilities(backbone, run, examples) -> torch.Tensor:
    """Class probabilities from a plain masked LM's full forward pass: mean label-word logit at [MASK]."""
    batch = run.pvp.collate(run.pvp.encode(examples))
    with torch.no_grad():
        logits = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    at_mask = logits[torch.arange(len(examples)), batch["mask_positions"]]  # (B, V)
    words = torch.tensor([ids[0] for ids in run.pvp.label_token_ids])
    return torch.softmax(at_mask[:, words], dim=-1)  # (B, C)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["bert", "roberta"])
@pytest.mark.parametrize("options", [{}, {"mlm_head": True}], ids=["encoder", "with-mlm-head"])
def test_lora_run_loads_in_plain_peft_with_the_same_scores(arch, options, tiny_model_dir, tiny_task_dir, tmp_path):
    """With the MLM head adapted too, this also shows the cloze scorer goes through the head's LoRA."""
    from peft import PeftModel

    model_dir = tiny_model_dir(arch)
    run = _train_lora(model_dir, tiny_task_dir, tmp_path / "run", **options)
    test = load_task_data(str(tiny_task_dir)).split("test")
    ours = torch.from_numpy(run.trainer.predict_proba(run.pvp.encode(test)))

    base = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
    untrained = _cloze_probabilities(base, run, test)
    plain = PeftModel.from_pretrained(base, tmp_path / "run" / "adapter").eval()
    torch.testing.assert_close(_cloze_probabilities(plain, run, test), ours, atol=1e-5, rtol=0)
    assert not torch.allclose(untrained, ours, atol=1e-4), "LoRA changed nothing: the comparison proves nothing"


@pytest.mark.slow
def test_export_merge_scores_like_the_run(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = _train_lora(tiny_bert_dir, tiny_task_dir, tmp_path / "run", target="all-linear")
    api.export_merged(tmp_path / "run", tmp_path / "merged")
    test = run.pvp.encode(load_task_data(str(tiny_task_dir)).split("test"))

    merged = api.build(run.config.replace(model=str(tmp_path / "merged"), mode="pet", mode_options={}))
    assert not any(".lora_" in name for name, _ in merged.model.backbone.named_parameters())
    torch.testing.assert_close(
        torch.from_numpy(merged.trainer.predict_proba(test)),
        torch.from_numpy(run.trainer.predict_proba(test)),
        atol=1e-5,
        rtol=0,
    )


@pytest.mark.slow
def test_export_refuses_what_is_not_one_masked_lm(tiny_bert_dir, tiny_task_dir, tmp_path):
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", max_steps=1), tmp_path / "soft")
    with pytest.raises(PromptlearnError, match="outside the masked LM"):
        api.export_merged(tmp_path / "soft", tmp_path / "out")
    _train_lora(tiny_bert_dir, tiny_task_dir, tmp_path / "cls", readout="cls")
    with pytest.raises(PromptlearnError, match="readout=cls"):
        api.export_merged(tmp_path / "cls", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("arch", ARCHS)
def test_lora_targets_stay_in_the_encoder(arch, tiny_model_dir, tiny_task_dir):
    run = api.build(tiny_config(tiny_model_dir(arch), tiny_task_dir, "lora", mode_options={"target": "all-linear"}))
    prefix = run.model.backbone.base_model_prefix + "."
    targets = run.model.mode.peft_model.peft_config["default"].target_modules
    assert targets and all(name.startswith(prefix) for name in targets)

    default = api.build(tiny_config(tiny_model_dir(arch), tiny_task_dir, "lora"))
    leaves = {name.rsplit(".", 1)[-1] for name in default.model.mode.peft_model.peft_config["default"].target_modules}
    assert leaves == ({"q_lin", "v_lin"} if arch == "distilbert" else {"query", "value"})


@pytest.mark.parametrize("arch", ARCHS)
def test_lora_reaches_the_mlm_head_only_when_asked(arch, tiny_model_dir, tiny_task_dir):
    run = api.build(tiny_config(tiny_model_dir(arch), tiny_task_dir, "lora", mode_options={"mlm_head": True}))
    prefix = run.model.backbone.base_model_prefix + "."
    targets = run.model.mode.peft_model.peft_config["default"].target_modules
    head = [name for name in targets if not name.startswith(prefix)]
    assert len(head) == 1  # the transform's dense layer; the tied decoder stays out
    assert run.model.backbone.get_output_embeddings() is not None
    assert not any(".lora_" in name for name, _ in run.model.backbone.get_output_embeddings().named_parameters())


def test_lora_unknown_target_names_the_layers_there_are(tiny_bert_dir, tiny_task_dir):
    with pytest.raises(PromptlearnError, match=r"matches no linear layer.*query"):
        api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "lora", mode_options={"target": "q_proj"}))


#: pfeiffer's ReLU bottleneck of H / 16 = 2 units can start dead on every row a 3-example step shows
#: (its up-projection starts at zero, so nothing revives them): 8 units here
PFEIFFER = {"placement": "pfeiffer", "reduction_factor": 4}
MODES_PER_ARCH = [("lora", {}), ("adapter", {}), ("adapter", PFEIFFER), ("qlora", {})]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize(("mode", "options"), MODES_PER_ARCH, ids=["lora", "houlsby", "pfeiffer", "qlora"])
def test_every_architecture_trains_exactly_its_parameters_and_reloads(
    arch, mode, options, tiny_model_dir, tiny_task_dir, tmp_path
):
    for package in MODES[mode].requires:
        pytest.importorskip(package)
    config = tiny_config(tiny_model_dir(arch), tiny_task_dir, mode, mode_options=options)
    run = api.build(config)
    before = {name: p.detach().clone() for name, p in run.model.named_parameters()}
    data = load_task_data(str(tiny_task_dir))
    run.trainer.fit(run.pvp.encode(data.split("train")), [])
    changed = {name for name, p in run.model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed == declared_names(run.model)

    api.train(config, tmp_path / "run")
    reloaded = api.load_run(tmp_path / "run")
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(data.split("test")) == saved
    assert set(load_file(tmp_path / "run" / api.WEIGHTS)) == declared_names(reloaded.model)


def test_adapter_follows_the_formula_and_starts_as_the_identity():
    torch.manual_seed(0)
    adapter = Adapter(hidden_size=8, reduction_factor=4, non_linearity="relu")
    hidden = torch.randn(2, 3, 8)
    assert torch.equal(adapter(hidden), hidden)  # up-projection starts at zero
    torch.nn.init.normal_(adapter.up.weight)
    torch.nn.init.normal_(adapter.up.bias)
    down, up = adapter.down, adapter.up
    expected = hidden + torch.relu(hidden @ down.weight.T + down.bias) @ up.weight.T + up.bias
    torch.testing.assert_close(adapter(hidden), expected)
    assert down.out_features == 2


def _hidden(run, examples) -> torch.Tensor:
    """The encoder's last hidden states (B, T, H) for ``examples``, through the mode's hooks."""
    run.model.eval()
    batch = run.pvp.collate(run.pvp.encode(examples))
    with torch.no_grad():
        return run.model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]


@pytest.mark.parametrize("arch", ARCHS)
def test_adapters_sit_after_attention_and_feed_forward(arch, tiny_model_dir, tiny_task_dir):
    """Houlsby adapts 2 sublayers per layer, Pfeiffer 1; a fresh adapter changes nothing, a trained one does."""
    model_dir = tiny_model_dir(arch)
    test = load_task_data(str(tiny_task_dir)).split("test")
    plain = _hidden(api.build(tiny_config(model_dir, tiny_task_dir, "pet")), test)
    layers = 1 if arch == "albert" else 2  # ALBERT runs one shared layer at every depth
    for placement, per_layer in (("houlsby", 2), ("pfeiffer", 1)):
        run = api.build(tiny_config(model_dir, tiny_task_dir, "adapter", mode_options={"placement": placement}))
        assert len(run.model.mode.adapters) == per_layer * layers
        torch.testing.assert_close(_hidden(run, test), plain)  # dropout off: eval mode
        for adapter in run.model.mode.adapters:  # each one is on the path
            torch.nn.init.normal_(adapter.down.weight)
            torch.nn.init.normal_(adapter.up.weight)
            assert not torch.allclose(_hidden(run, test), plain, atol=1e-3)
            torch.nn.init.zeros_(adapter.up.weight)


def test_pet_layer_lr_decay_gives_each_depth_its_rate(tiny_bert_dir, tiny_task_dir):
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "pet", mode_options={"layer_lr_decay": 0.5}))
    model = run.model
    names = {id(p): name for name, p in model.named_parameters()}
    rates = {names[id(p)]: group["lr"] for group in model.mode.param_groups(model, 1.0) for p in group["params"]}
    assert rates["backbone.bert.embeddings.word_embeddings.weight"] == 0.25  # decay ** 2 layers
    assert rates["backbone.bert.encoder.layer.0.output.dense.weight"] == 0.5
    assert rates["backbone.bert.encoder.layer.1.output.dense.weight"] == 1.0
    assert rates["backbone.cls.predictions.transform.dense.weight"] == 1.0
    assert set(rates) == {name for name, _ in model.named_parameters()}


@pytest.mark.parametrize("mode", ["pet", "finetune"])
def test_train_layers_top_n_freezes_embeddings_and_lower_layers(mode, tiny_bert_dir, tiny_task_dir):
    options = {"train_layers": "top:1"}
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options, labels=LABELS))
    trained = declared_names(run.model)
    assert any(".layer.1." in name for name in trained)
    assert not any(".layer.0." in name or "embeddings" in name for name in trained)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"train_layers": "top:3"}, "only 2 layers"),
        ({"train_layers": "top:0"}, "'all' or 'top:N'"),
        ({"train_layers": "bottom:1"}, "'all' or 'top:N'"),
        ({"layer_lr_decay": 0.0}, r"\(0, 1\]"),
    ],
)
def test_layerwise_options_are_checked(options, message, tiny_bert_dir, tiny_task_dir):
    with pytest.raises(PromptlearnError, match=message):
        api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "pet", mode_options=options))


def test_layerwise_training_on_albert_says_why_not(tiny_model_dir, tiny_task_dir):
    with pytest.raises(PromptlearnError, match="ALBERT"):
        api.build(tiny_config(tiny_model_dir("albert"), tiny_task_dir, "pet", mode_options={"layer_lr_decay": 0.9}))


@pytest.mark.parametrize("arch", ["roberta", "distilbert", "electra"])
def test_layer_lr_decay_finds_the_layers_of_each_architecture(arch, tiny_model_dir, tiny_task_dir):
    options = {"layer_lr_decay": 0.5}
    run = api.build(tiny_config(tiny_model_dir(arch), tiny_task_dir, "finetune", mode_options=options, labels=LABELS))
    # each depth's group is split into a decayed part and a ".no_decay" part (biases, norms) at the same rate
    groups = {g["name"].removesuffix(".no_decay"): g["lr"] for g in run.model.mode.param_groups(run.model, 1.0)}
    assert groups == {"model": 1.0, "layer_0": 0.5, "embeddings": 0.25, "head": 1e-3}


def test_mode_opt_values_are_typed_and_checked():
    assert parse_mode_options(MODES["lora"], ["r=16", "target=all-linear", "alpha=8"]) == {
        "r": 16,
        "target": "all-linear",
        "alpha": 8.0,
    }
    assert parse_mode_options(MODES["ptuning"], ["prompt-length=none", "tune_model=yes"]) == {
        "prompt_length": None,
        "tune_model": True,
    }
    with pytest.raises(PromptlearnError, match=r"no option 'rank'; it takes: r \(int, default 8\)"):
        parse_mode_options(MODES["lora"], ["rank=4"])
    with pytest.raises(PromptlearnError, match="'x' is not int"):
        parse_mode_options(MODES["lora"], ["r=x"])
    with pytest.raises(PromptlearnError, match="key=value"):
        parse_mode_options(MODES["lora"], ["r"])


def test_qlora_without_bitsandbytes_says_what_is_needed(tiny_bert_dir, tiny_task_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # import fails as if not installed
    with pytest.raises(PromptlearnError, match=r"needs bitsandbytes >= 0\.46.*promptlearn\[qlora\]"):
        api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "qlora"))


def test_qlora_stores_the_encoder_in_4_bits_and_trains_lora_in_float32(tiny_bert_dir, tiny_task_dir):
    bnb = pytest.importorskip("bitsandbytes")
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "qlora"))
    encoder_linears = [m for m in run.model.encoder.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(encoder_linears) == 2 * 6  # q, k, v, attention output, intermediate, output per layer
    assert all(m.weight.dtype == torch.uint8 and not m.weight.requires_grad for m in encoder_linears)
    assert all(p.dtype == torch.float32 for p in run.model.mode.lora)
    assert isinstance(run.model.backbone.cls.predictions.transform.dense, torch.nn.Linear)
    assert not isinstance(run.model.backbone.cls.predictions.transform.dense, bnb.nn.Linear4bit)


@pytest.mark.parametrize("name", ["bert-tiny-peft", "bert-tiny-pet-llrd", "bert-tiny-pet-top2"])
def test_experiment_files_of_the_new_modes_build_their_modes(name):
    from promptlearn.experiment.config import Experiment

    experiment = Experiment.load(Path(__file__).resolve().parents[2] / "experiments" / f"{name}.yaml")
    runs = experiment.runs()
    assert len(runs) == 50 * len(experiment.modes)
    for spec in runs:
        MODES[spec.mode].from_options(spec.config.mode_options)


def test_pet_run_exports_as_it_is(tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", max_steps=2)
    api.train(config, tmp_path / "run")
    api.export_merged(tmp_path / "run", tmp_path / "out")
    test = load_task_data(str(tiny_task_dir)).split("test")
    exported = api.build(config.replace(model=str(tmp_path / "out")))
    assert exported.predict(test) == api.load_run(tmp_path / "run").predict(test)


def test_lora_adapter_config_lists_its_targets_sorted(tiny_bert_dir, tiny_task_dir, tmp_path):
    """peft holds ``target_modules`` as a set, whose order changes with PYTHONHASHSEED: two identical
    runs must still write identical bytes, so the saved list is sorted."""
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "lora", mode_options={"target": "all-linear"}))
    run.model.mode.save_files(run.model, tmp_path)
    saved = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["target_modules"]
    assert len(saved) > 3
    assert saved == sorted(saved)
    assert isinstance(run.model.mode.peft_model.peft_config["default"].target_modules, set)  # peft's own, untouched


def _tiny_deberta(version: str):
    """A random DeBERTa (v1 or v2) masked LM with relative positions; v2 with its LayerNorm on them."""
    from transformers import DebertaConfig, DebertaForMaskedLM, DebertaV2Config, DebertaV2ForMaskedLM

    config_class, model_class = {
        "v1": (DebertaConfig, DebertaForMaskedLM),
        "v2": (DebertaV2Config, DebertaV2ForMaskedLM),
    }[version]
    extra = {"norm_rel_ebd": "layer_norm"} if version == "v2" else {}
    torch.manual_seed(0)
    config = config_class(
        vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, relative_attention=True, pos_att_type=["p2c", "c2p"], **extra,
    )  # fmt: skip
    return model_class(config)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_layer_lr_decay_puts_debertas_relative_positions_at_the_lowest_layer_that_reads_them(version):
    """Every layer reads the relative-position embeddings, so changing them changes layer 0: they
    train at layer 0's rate, and with ``top:N`` (N < L) not at all; never at the embeddings' rate."""
    backbone = _tiny_deberta(version)
    relative = [
        name for name, _ in backbone.named_parameters() if name.startswith("deberta.encoder.") and ".layer." not in name
    ]
    assert "deberta.encoder.rel_embeddings.weight" in relative
    model = PromptModel(backbone, get_mode("pet").from_options({"layer_lr_decay": 0.5}), [[5], [6]], num_labels=2)
    names = {id(p): name for name, p in model.named_parameters()}
    rates = {names[id(p)]: group["lr"] for group in model.mode.param_groups(model, 1.0) for p in group["params"]}
    assert rates["backbone.deberta.embeddings.word_embeddings.weight"] == 0.25
    assert rates["backbone.deberta.encoder.layer.0.output.dense.weight"] == 0.5
    assert rates["backbone.deberta.encoder.layer.1.output.dense.weight"] == 1.0
    assert {rates[f"backbone.{name}"] for name in relative} == {0.5}
    top = PromptModel(
        _tiny_deberta(version), get_mode("pet").from_options({"train_layers": "top:1"}), [[5], [6]], num_labels=2
    )
    assert not any("encoder.rel_embeddings" in name for name in declared_names(top))
    assert any(".layer.1." in name for name in declared_names(top))


def test_pfeiffer_adapter_is_adapterhubs_layout_after_the_feed_forward_layernorm(tiny_bert_dir, tiny_task_dir):
    """AdapterHub's SeqBnConfig on one feed-forward output block, against torch ops written out:
    s = x + dense(h); y = LayerNorm(s); out = LayerNorm(s + up(relu(down(y)))), the layer's own
    LayerNorm both times, bottleneck H / 16, ReLU; the attention output is left alone."""
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "adapter", mode_options={"placement": "pfeiffer"}))
    run.model.eval()
    assert run.model.mode.options.non_linearity == "relu"
    layer = run.model.encoder.encoder.layer[0]
    adapter = run.model.mode.adapters[0]
    assert adapter.down.out_features == 32 // 16
    assert not layer.attention.output.dense._forward_hooks and not layer.output.dense._forward_hooks
    torch.manual_seed(3)
    for linear in (adapter.down, adapter.up):
        torch.nn.init.normal_(linear.weight)
        torch.nn.init.normal_(linear.bias)
    intermediate, residual = torch.randn(2, 5, 64), torch.randn(2, 5, 32)
    norm, dense = layer.output.LayerNorm, layer.output.dense
    with torch.no_grad():
        out = layer.output(intermediate, residual)
        s = residual + intermediate @ dense.weight.T + dense.bias
        y = torch.nn.functional.layer_norm(s, (32,), norm.weight, norm.bias, norm.eps)
        delta = torch.relu(y @ adapter.down.weight.T + adapter.down.bias) @ adapter.up.weight.T + adapter.up.bias
        expected = torch.nn.functional.layer_norm(s + delta, (32,), norm.weight, norm.bias, norm.eps)
    torch.testing.assert_close(out, expected)
    houlsby = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "adapter"))
    assert houlsby.model.mode.options.non_linearity == "swish"


@pytest.mark.slow
def test_pfeiffer_adapters_stored_before_adapterhubs_layout_are_refused_on_load(tiny_bert_dir, tiny_task_dir, tmp_path):
    """Issue 20, item 13: the same tensors were Houlsby's output adapter with swish before; loading them into
    AdapterHub's layout would give other numbers without a word. Runs now name their layout; houlsby's is as it was."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    for placement in ("pfeiffer", "houlsby"):
        run_dir = tmp_path / placement
        options = {"placement": placement, "reduction_factor": 4}
        api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "adapter", max_steps=1, mode_options=options), run_dir)
        api.load_run(run_dir)  # a run of this version loads
        weights = run_dir / api.WEIGHTS
        with safe_open(weights, "pt") as handle:
            metadata = handle.metadata()
        assert metadata["adapter_layout"] == placement
        del metadata["adapter_layout"]  # as a run of the previous version wrote it
        save_file(load_file(weights), weights, metadata=metadata)
        if placement == "houlsby":
            api.load_run(run_dir)
        else:
            with pytest.raises(PromptlearnError, match="trained before pfeiffer became AdapterHub's layout"):
                api.load_run(run_dir)
