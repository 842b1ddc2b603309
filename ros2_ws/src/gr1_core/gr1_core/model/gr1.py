"""The GR1 module: frame and text encoders, policy transformer, action head, video decoder.

Top-level attribute names equal those of the official `models/gr1.py`, so an official state dict
loads by name (see gr1_core.convert). The split API (`encode_frames`, `encode_text`,
`forward_policy`) lets the runtime cache per-frame and per-instruction features.

Token layout per timestep (published order):
    language, state, L static latents, static CLS, L wrist latents, wrist CLS,
    [ACT], K [OBS] static, K [OBS] wrist                      (K = L + 1; 43 tokens for L = 9)
The [OBS] queries are only appended when video is predicted; nothing attends to a query token, so
dropping them leaves the [ACT] outputs unchanged. The mask is causal over the flattened token
sequence, as GR-1's GPT-2 applies it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gr1_core import keys
from gr1_core.config import GR1Config
from gr1_core.model.clip_text import CLIPTextTower
from gr1_core.model.decoder import sincos_2d
from gr1_core.model.gpt import GPT2Model
from gr1_core.model.instruction_scope import InstructionScope
from gr1_core.model.minilm_text import MiniLMTextTower, mean_pool
from gr1_core.model.perceiver import PerceiverResampler
from gr1_core.model.target_locator import KeypointEncoder, LocatorReadout, mixture_log_prob
from gr1_core.model.target_readout import TargetReadout
from gr1_core.model.text_pool import TokenAttentionPool
from gr1_core.model.vit import Block, VisionTransformer

# Batch entry holding the tokenised instruction, int64 (B, ctx); see tokenizer.tokenize.
INSTRUCTION_TOKENS = "instruction_tokens"

# Additive attention bias of masked keys, GR-1's GPT-2 value: finite, so fp16 engines stay finite.
MASKED = -1e4


def _closeness(feat: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """feat (B, E), points (n, E) -> (B, n), larger for nearer points: |f - p|^2 = |f|^2 -
    2 f.p + |p|^2 and |f|^2 is the same for every p, so 2 f.p - |p|^2 ranks them."""
    return 2.0 * feat @ points.T - points.pow(2).sum(-1)


class GR1(nn.Module):
    def __init__(self, config: GR1Config) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config
        h = c.hidden_size
        self.n_latents = c.num_latents
        self.k = c.num_latents + 1  # frame tokens the policy reads; a keypoint token may follow

        self.transformer = GPT2Model(h, c.n_layer, c.n_head, c.n_inner, c.activation, c.dropout)
        self.perceiver_resampler = PerceiverResampler(
            c.vit_width, c.perceiver_depth, c.perceiver_dim_head, c.perceiver_heads,
            c.num_latents, c.perceiver_num_media_embeds, c.perceiver_ff_mult,
        )
        # One text tower, under the attribute its weights' layout is named for.
        if c.text_encoder == "minilm":
            self.model_minilm = MiniLMTextTower(c.text_vocab_size, c.text_width, c.text_layers,
                                                c.text_heads)
            if c.text_pool_queries:  # trained with the policy even when the tower is frozen
                self.text_pool = TokenAttentionPool(c.text_width, c.text_pool_queries)
            if c.instruction_scope:  # fitted on its own (scripts/set_instruction_scope.py)
                self.instruction_scope = InstructionScope(c.text_width).requires_grad_(False)
        else:
            self.model_clip = CLIPTextTower(
                c.text_vocab_size, c.text_context, c.text_width, c.text_layers, c.text_heads,
                c.text_embed_dim,
            )
        self.model_mae = VisionTransformer(
            c.image_size, c.patch_size, c.vit_width, c.vit_depth, c.vit_heads, c.vit_mlp_ratio
        )
        self.text_tower.requires_grad_(not c.freeze_text)
        self.model_mae.requires_grad_(not c.freeze_vision)

        self.embed_arm_state = nn.Linear(c.arm_state_dim, h)
        self.embed_gripper_state = nn.Linear(2, h)  # one-hot: index 0 closed, 1 open
        self.embed_state = nn.Linear(2 * h, h)
        self.embed_timestep = nn.Embedding(c.window, h)
        self.embed_lang = nn.Linear(c.text_embed_dim, h)
        if c.lang_prototypes:
            # Filled by scripts/set_instruction_prototypes.py; saved with the weights. A sentence
            # farther than its nearest prototype's radius is refused (encode_text gives zeros).
            self.register_buffer("lang_prototypes", torch.zeros(c.lang_prototypes, c.text_embed_dim))
            self.register_buffer("lang_prototype_radius", torch.zeros(c.lang_prototypes))
        if c.lang_anchors:
            self.register_buffer("lang_anchors", torch.zeros(c.lang_anchors, c.text_embed_dim))
            self.register_buffer("lang_anchor_task", torch.zeros(c.lang_anchors, dtype=torch.long))
        self.embed_hand_img = nn.Linear(c.img_feat_dim, h)
        self.embed_img = nn.Linear(c.img_feat_dim, h)
        self.embed_hand_patch = nn.Linear(c.img_feat_dim, h)
        self.embed_patch = nn.Linear(c.img_feat_dim, h)
        self.embed_ln = nn.LayerNorm(h)

        self.action_queries = nn.Embedding(1, h)
        self.obs_queries = nn.Embedding(self.k, h)
        self.obs_hand_queries = nn.Embedding(self.k, h)

        self.pred_act_mlps = nn.ModuleList([nn.Linear(h, h // 2), nn.Linear(h // 2, h // 2)])
        self.pred_arm_act = nn.Linear(h // 2, c.arm_action_dim)
        self.pred_gripper_act = nn.Linear(h // 2, 1)
        if c.target_locator:
            self.keypoints = KeypointEncoder(c.target_locator, c.img_feat_dim)
            self.target_readout = LocatorReadout(c.target_locator, h)
        elif c.target_head:
            self.target_readout = TargetReadout(self.k, c.img_feat_dim, h)
        if c.target_token:
            self.embed_target = nn.Linear(3, h)

        self.decoder_embed = nn.Linear(h, h)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, h))
        self.decoder_blocks = nn.ModuleList(
            Block(h, c.decoder_heads, c.decoder_mlp_ratio, eps=1e-5) for _ in range(c.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(h)
        self.decoder_pred = nn.Linear(h, c.patch_dim)
        grid = c.image_size // c.patch_size
        # A parameter (not a buffer) because the official checkpoint stores it; never trained.
        self.decoder_pos_embed = nn.Parameter(sincos_2d(h, grid).unsqueeze(0), requires_grad=False)

        # Token kinds of one timestep with all queries: 1 = context token (masked by the history
        # mask), 0 = query token (never attended to). Sliced to the tokens actually used.
        n_ctx = self._n_context_tokens()
        kinds = torch.zeros(n_ctx + 1 + 2 * self.k)
        kinds[:n_ctx] = 1.0
        self.register_buffer("token_kinds", kinds, persistent=False)
        n_max = c.window * kinds.numel()
        # Additive causal bias over the flattened token sequence: MASKED above the diagonal.
        causal = torch.full((n_max, n_max), MASKED).triu(1)
        self.register_buffer("causal_bias", causal, persistent=False)

    # ------------------------------------------------------------------ encoders
    @property
    def text_tower(self) -> nn.Module:
        return self.model_minilm if self.config.text_encoder == "minilm" else self.model_clip

    def encode_frames(self, rgb: torch.Tensor) -> torch.Tensor:
        """rgb (N, 3, S, S) ImageNet-normalised -> tokens (N, K, D_img): latents, then CLS (and
        the keypoint token with target_locator)."""
        return self._encode_frames(rgb)[0]

    def _encode_frames(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """encode_frames, and the locator's log score maps (N, M, S*S) it read (None without)."""
        s = self.config.image_size
        if not torch.jit.is_tracing() and tuple(rgb.shape[1:]) != (3, s, s):
            raise ValueError(
                f"encode_frames expects rgb of shape (N, 3, {s}, {s}), got {tuple(rgb.shape)}; "
                "resize with gr1_core.processors.ImageProcessor"
            )
        cls, patches = self.model_mae(rgb)  # (N, D), (N, P, D)
        latents = self.perceiver_resampler(patches)  # (N, L, D)
        tokens = [latents, cls.unsqueeze(1)]
        log_maps = None
        if self.config.target_locator:
            log_maps = self.keypoints.score_maps(rgb)  # (N, M, S*S)
            tokens.append(self.keypoints.token(log_maps, s))  # (N, 1, D)
        return torch.cat(tokens, dim=1), log_maps  # (N, K, D)

    def encode_text(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token_ids (B, ctx) int64 -> lang (B, D_lang), L2-normalised as GR-1 does (+1e-6), or
        the nearest instruction prototype (or that task's nearest anchor) where the config stores
        them; zeros where the sentence lies outside that prototype's radius or outside the
        instruction scope (GR1Config.instruction_scope)."""
        ctx = self.config.text_context
        if not torch.jit.is_tracing() and (token_ids.dim() != 2 or token_ids.shape[1] > ctx):
            raise ValueError(
                f"encode_text expects token ids of shape (B, <= {ctx}), got {tuple(token_ids.shape)}; "
                f"tokenize with context_length={ctx}"
            )
        feat, inside = self._sentence(token_ids)  # (B, E), (B,) or None
        if self.config.lang_prototypes:
            near = self.nearest_prototype(feat)  # (B,)
            proto = self.lang_prototypes[near]  # (B, E)
            near_enough = (feat - proto).norm(dim=-1) <= self.lang_prototype_radius[near]
            inside = near_enough.to(proto.dtype) * (1.0 if inside is None else inside)
            if self.config.lang_anchors:
                own = self.lang_anchor_task.unsqueeze(0) == near.unsqueeze(1)  # (B, m)
                score = _closeness(feat, self.lang_anchors)  # (B, m)
                proto = self.lang_anchors[torch.where(own, score, MASKED).argmax(dim=-1)]
            feat = proto
        # All zeros (never a unit feature) marks a sentence the policy refuses: near no task's
        # prototype, or outside the instruction scope. The runtime raises UnknownInstruction.
        return feat if inside is None else feat * inside.unsqueeze(-1)

    def sentence_feature(self, token_ids: torch.Tensor) -> torch.Tensor:
        """token_ids (B, ctx) -> the text tower's feature (B, E), L2-normalised, never snapped."""
        return self._sentence(token_ids)[0]

    def _sentence(self, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(normalised feature (B, E), (B,) 1.0 inside the instruction scope or None without
        one), from one pass of the text tower."""
        c, inside = self.config, None
        if c.text_pool_queries or c.instruction_scope:
            states, keep = self.model_minilm.token_states(token_ids)  # (B, T, W), (B, T)
            feat = self.text_pool(states, keep) if c.text_pool_queries else mean_pool(states, keep)
            if c.instruction_scope:
                inside = self.instruction_scope(states, keep)
        else:
            feat = self.text_tower(token_ids)  # (B, E)
        return feat / (feat.norm(dim=-1, keepdim=True) + 1e-6), inside

    def nearest_prototype(self, feat: torch.Tensor) -> torch.Tensor:
        """feat (B, E) normalised sentence features -> (B,) int64 index of the nearest stored
        instruction prototype (see GR1Config.lang_prototypes)."""
        return _closeness(feat, self.lang_prototypes).argmax(dim=-1)

    # ------------------------------------------------------------------ policy
    def _n_context_tokens(self) -> int:
        state = 0 if self.config.video_only else 1
        return 1 + state + int(self.config.target_token) + 2 * self.k

    def forward_policy(
        self,
        lang: torch.Tensor,
        arm_state: torch.Tensor | None,
        gripper_state: torch.Tensor | None,
        static_tokens: torch.Tensor,
        wrist_tokens: torch.Tensor,
        attention_mask: torch.Tensor,
        predict_video: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Run the policy transformer over a left-aligned history window.

        lang (B, D_lang); arm_state (B, T, 6); gripper_state (B, T, 2) one-hot [closed, open];
        static_tokens, wrist_tokens (B, T, K, D_img) from encode_frames; attention_mask (B, T),
        1 = real slot. T <= window. Returns ARM_ACTION (B, T, 6), GRIPPER_LOGIT (B, T, 1) and,
        with predict_video, PRED_RGB_STATIC / PRED_RGB_WRIST (B, T, P, patch*patch*3).
        In video-only pre-training there is no state input and no action output.
        """
        c = self.config
        b, t = static_tokens.shape[:2]
        if not torch.jit.is_tracing() and t > c.window:
            raise ValueError(f"history of {t} steps is longer than the model window {c.window}")
        act = not c.video_only
        video = predict_video or c.video_only
        h = c.hidden_size
        lat = self.n_latents

        time = self.embed_timestep.weight[:t]  # (T, h)
        lang_h = self.embed_lang(lang)  # (B, h)
        tokens = [(lang_h.unsqueeze(1) + time).unsqueeze(2)]  # (B, T, 1, h)
        if act:
            if arm_state is None or gripper_state is None:
                raise ValueError("arm_state and gripper_state are required unless video_only")
            if not c.arm_state_input:
                # Multiplied, not replaced: the exported graph keeps its arm_state input.
                arm_state = arm_state * 0.0  # (B, T, 6); see GR1Config.arm_state_input
            state = torch.cat(
                (self.embed_arm_state(arm_state), self.embed_gripper_state(gripper_state)), dim=-1
            )  # (B, T, 2h)
            tokens.append((self.embed_state(state) + time).unsqueeze(2))  # (B, T, 1, h)
        target = None
        if c.target_token:
            target = self._locate(lang_h, static_tokens)  # (B, T, 3)
            tokens.append((self.embed_target(target) + time).unsqueeze(2))  # (B, T, 1, h)
        cams = ((static_tokens, self.embed_patch, self.embed_img),
                (wrist_tokens, self.embed_hand_patch, self.embed_hand_img))
        for frame, embed_patch, embed_cls in cams:
            tokens.append(embed_patch(frame[:, :, :lat]) + time.unsqueeze(1))  # (B, T, L, h)
            tokens.append((embed_cls(frame[:, :, lat]) + time).unsqueeze(2))  # (B, T, 1, h)
        n_ctx = sum(x.shape[2] for x in tokens)
        if act:
            tokens.append(self.action_queries.weight.expand(b, t, 1, h))  # (B, T, 1, h)
        if video:
            tokens.append(self.obs_queries.weight.expand(b, t, self.k, h))  # (B, T, K, h)
            tokens.append(self.obs_hand_queries.weight.expand(b, t, self.k, h))
        x = torch.cat(tokens, dim=2)  # (B, T, n, h)
        n = x.shape[2]
        x = self.embed_ln(x.reshape(b, t * n, h))  # (B, T*n, h)

        # Keys: real context tokens only. Queries always follow the context tokens, so the
        # kinds of this layout are a prefix of the full one.
        key = attention_mask.to(x.dtype).unsqueeze(2) * self.token_kinds[:n]  # (B, T, n)
        key = key.reshape(b, 1, 1, t * n)
        causal = self.causal_bias[: t * n, : t * n].to(x.dtype)  # (T*n, T*n)
        bias = (1.0 - key) * MASKED + causal  # (B, 1, T*n, T*n)

        y = self.transformer(x, bias).reshape(b, t, n, h)  # (B, T, n, h)

        out: dict[str, torch.Tensor] = {}
        if act:
            a = y[:, :, n_ctx]  # (B, T, h)
            for mlp in self.pred_act_mlps:  # no activation in between, as released
                a = mlp(a)
            out[keys.ARM_ACTION] = self.pred_arm_act(a)  # (B, T, 6)
            out[keys.GRIPPER_LOGIT] = self.pred_gripper_act(a)  # (B, T, 1)
        if target is not None:
            out[keys.PRED_TARGET] = target
        if video:
            q0 = n_ctx + (1 if act else 0)
            out[keys.PRED_RGB_STATIC] = self._decode(y[:, :, q0 : q0 + self.k])
            out[keys.PRED_RGB_WRIST] = self._decode(y[:, :, q0 + self.k : q0 + 2 * self.k])
        return out

    def _decode(self, obs: torch.Tensor) -> torch.Tensor:
        """[OBS] outputs (B, T, K, h) -> predicted patches (B, T, P, patch*patch*3)."""
        b, t, k, h = obs.shape
        p = self.decoder_pos_embed.shape[1]
        masks = (self.mask_token + self.decoder_pos_embed.unsqueeze(0)).expand(b, t, p, h)
        z = torch.cat((self.decoder_embed(obs), masks), dim=2).reshape(b * t, k + p, h)
        for block in self.decoder_blocks:
            z = block(z)
        z = self.decoder_pred(self.decoder_norm(z))  # (B*T, K+P, patch*patch*3)
        return z.reshape(b, t, k + p, -1)[:, :, k:]

    # ------------------------------------------------------------------ training window
    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Outputs for a training window.

        batch: RGB_STATIC, RGB_WRIST (B, T, 3, S, S) normalised; ARM_STATE (B, T, 6);
        GRIPPER_STATE (B, T) as +1 open / -1 closed, or (B, T, 2) one-hot; ATTENTION_MASK (B, T);
        INSTRUCTION_TOKENS (B, ctx) int64. Video is always predicted.
        """
        static, wrist = batch[keys.RGB_STATIC], batch[keys.RGB_WRIST]
        b, t = static.shape[:2]
        frames, log_maps = self._encode_frames(
            torch.cat((static.flatten(0, 1), wrist.flatten(0, 1))))
        frames = frames.reshape(2, b, t, frames.shape[1], -1)  # (2, B, T, K, D)
        lang = self.encode_text(batch[INSTRUCTION_TOKENS])
        arm = grip = None
        if not self.config.video_only:
            arm = batch[keys.ARM_STATE]
            grip = gripper_one_hot(batch[keys.GRIPPER_STATE])
        out = self.forward_policy(
            lang, arm, grip, frames[0], frames[1], batch[keys.ATTENTION_MASK], predict_video=True
        )
        if self.config.target_head and keys.PRED_TARGET not in out:
            out[keys.PRED_TARGET] = self.locate_target(lang, frames[0])
        if log_maps is not None:  # the static frames' maps come first
            weights = self.target_readout.weights(self.embed_lang(lang))  # (B, M)
            out[keys.PRED_TARGET_MAP] = mixture_log_prob(
                log_maps[: b * t].reshape(b, t, *log_maps.shape[1:]), weights)  # (B, T, P)
        return out

    def locate_target(self, lang: torch.Tensor, static_tokens: torch.Tensor) -> torch.Tensor:
        """lang (B, D_lang), static tokens (B, T, K, D_img) -> the target readout's estimate
        (B, T, 3) of where the named object is at each step (GR1Config.target_head)."""
        return self._locate(self.embed_lang(lang), static_tokens)

    def _locate(self, lang_h: torch.Tensor, static_tokens: torch.Tensor) -> torch.Tensor:
        if self.config.target_locator:
            return self.target_readout(lang_h, static_tokens[:, :, self.k])
        return self.target_readout(lang_h, static_tokens[:, :, : self.k])


def gripper_one_hot(gripper: torch.Tensor) -> torch.Tensor:
    """(B, T) with +1 open / -1 closed -> (B, T, 2) one-hot [closed, open]; one-hot passes through.

    GR-1 maps CALVIN's gripper flag g in {-1, 1} to index (g + 1) / 2, so [1, 0] is closed; empty
    history slots use [1, 0] too.
    """
    if gripper.dim() == 3:
        return gripper.float()
    return F.one_hot((gripper > 0).long(), num_classes=2).float()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
