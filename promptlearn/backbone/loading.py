"""Loading a backbone and its tokenizer from a local folder or a Hugging Face Hub id."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.hub import check_local_model, require_hub


def load_tokenizer(name: str):
    """Tokenizer of a local folder or Hub id (fails fast, with a clear message, when offline)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name)


def load_backbone(name: str, mlm_head: bool = True) -> nn.Module:
    """``AutoModelForMaskedLM`` from a local folder or Hub id.

    With ``mlm_head`` (readouts that score label words), a checkpoint without the MLM head's
    weights (e.g. a saved plain ``BertModel``) is refused: transformers would fill the head at random.
    """
    from transformers import AutoModelForMaskedLM

    backbone, info = _from_pretrained(AutoModelForMaskedLM, name, output_loading_info=True)
    missing = missing_head_weights(backbone, info["missing_keys"]) if mlm_head else []
    if missing:
        raise PromptlearnError(
            f"{name} has no trained masked-LM head ({len(missing)} head weights are not in the checkpoint, e.g. "
            f"{missing[0]}), so label-word scores would come from a random head. Use a checkpoint saved with its "
            "MLM head (a *ForMaskedLM model), or a mode with a classification head (--mode head or finetune)."
        )
    return backbone


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
