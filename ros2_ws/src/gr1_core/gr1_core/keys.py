"""Names of observation and action entries, defined once for the whole stack.

Batches, processors, exported graphs, datasets and the ROS adapters all use these names.
"""

# Observations
RGB_STATIC = "rgb_static"  # static (third-person) camera, uint8 HxWx3 RGB
RGB_WRIST = "rgb_wrist"  # wrist (gripper) camera, uint8 HxWx3 RGB
ARM_STATE = "arm_state"  # TCP pose: x, y, z [m], roll, pitch, yaw [rad], world frame
GRIPPER_STATE = "gripper_state"  # +1 open, -1 closed
INSTRUCTION = "instruction"  # natural-language instruction
ATTENTION_MASK = "attention_mask"  # 1 for real history slots, 0 for padding

# Actions
ARM_ACTION = "arm_action"  # relative TCP motion, CALVIN units in [-1, 1]: dx dy dz dR dP dY
GRIPPER_ACTION = "gripper_action"  # +1 open, -1 close
GRIPPER_LOGIT = "gripper_logit"  # model logit of "open"

# Training target only (never an input): where the object the instruction names is, x, y, z [m],
# world frame, per tick; with TARGET_LABELLED (T,) 1 at the steps it is learnt (recorded).
TARGET_POSITION = "target_position"
TARGET_LABELLED = "target_labelled"
PRED_TARGET = "pred_target"  # the model's estimate of TARGET_POSITION (GR1Config.target_head)
# With GR1Config.target_locator: the pixel (row * S + column, model image size S) of the named
# object in the static image per tick, -1 where unknown; the model's (B, T, S*S) log-map of it.
TARGET_PIXEL = "target_pixel"
PRED_TARGET_MAP = "pred_target_map"

# Model outputs for video prediction
PRED_RGB_STATIC = "pred_rgb_static"
PRED_RGB_WRIST = "pred_rgb_wrist"

CAMERAS = (RGB_STATIC, RGB_WRIST)
ARM_STATE_DIM = 6
ARM_ACTION_DIM = 6
