"""Loading a backbone and its tokenizer from a local folder or a Hugging Face Hub id."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.hub import check_local_model, require_hub


def load_tokenizer(name: str):
    """Tokenizer of a local folder or Hub id (fails fast, with a clear message, when offline)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name)


def load_backbone(name: str, mlm_head: bool = True, encoder_only: bool = False) -> nn.Module:
    """``AutoModelForMaskedLM`` from a local folder or Hub id.

    With ``mlm_head`` (readouts that score label words), a checkpoint without the MLM head's
    weights (e.g. a saved plain ``BertModel``) is refused: transformers would fill the head at random.
    With ``encoder_only`` (a mode that reads no MLM head, :attr:`~promptlearn.modes.base.Mode.encoder_only`),
    the bare encoder (``AutoModel``) instead: any encoder checkpoint loads, a sentence-transformers folder or a
    family without a masked-LM class, and no random head is built.
    """
    from transformers import AutoModel, AutoModelForMaskedLM

    if encoder_only:
        return _without_pooler(_from_pretrained(AutoModel, name))
    backbone, info = _from_pretrained(AutoModelForMaskedLM, name, output_loading_info=True)
    missing = missing_head_weights(backbone, info["missing_keys"]) if mlm_head else []
    if missing:
        raise PromptlearnError(
            f"{name} has no trained masked-LM head ({len(missing)} head weights are not in the checkpoint, e.g. "
            f"{missing[0]}), so label-word scores would come from a random head. Use a checkpoint saved with its "
            "MLM head (a *ForMaskedLM model), or a mode with a classification head (--mode head or finetune)."
        )
    return backbone


def _without_pooler(encoder: nn.Module) -> nn.Module:
    """``encoder`` without the [CLS] pooler some families add (BERT's next-sentence layer): nothing reads its
    output, so it would only cost a matrix product per batch and stay untrained among trained weights."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return encoder


def sentence_transformers_modules(name: str) -> dict:
    """What a sentence-transformers folder says of its embeddings: ``{"pooling": "mean" | "cls" | ...,
    "normalize": bool}`` from its ``modules.json`` and pooling config; ``{}`` for any other checkpoint.

    The setfit mode embeds a checkpoint as the sentence-transformers library would (all-MiniLM-L6-v2:
    mean pooling, then unit length).
    """
    folder = Path(name)
    if not (folder / "modules.json").is_file():
        return {}
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    kinds = {module["type"].rsplit(".", 1)[-1]: module.get("path", "") for module in modules}
    found = {"normalize": "Normalize" in kinds}
    pooling_file = folder / kinds.get("Pooling", "1_Pooling") / "config.json"
    if pooling_file.is_file():
        pooling = json.loads(pooling_file.read_text(encoding="utf-8"))
        chosen = [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True]
        if chosen:
            found["pooling"] = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}.get(
                chosen[0], chosen[0].removeprefix("pooling_mode_")
            )
    return found


def missing_head_weights(backbone: nn.Module, missing_keys) -> list[str]:
    """The ``missing_keys`` of a load that belong to the MLM head (outside the encoder), tied weights excepted."""
    tied = backbone.get_input_embeddings().weight
    params = dict(backbone.named_parameters(remove_duplicate=False))
    encoder = backbone.base_model_prefix + "."
    return sorted(key for key in missing_keys if not key.startswith(encoder) and params.get(key) is not tied)


def _from_pretrained(auto_class, name: str, **kwargs):
    if Path(name).is_dir():
        try:
            return auto_class.from_pretrained(name, **kwargs)
        except (OSError, ValueError) as err:
            raise PromptlearnError(f"Could not load {auto_class.__name__[4:]} from folder {name}: {err}") from err
    check_local_model(name)
    try:
        return auto_class.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError:
        require_hub("model", name)
    try:
        return auto_class.from_pretrained(name, **kwargs)
    except OSError as err:
        raise PromptlearnError(f"Could not load model {name!r} from the Hugging Face Hub: {err}") from err
