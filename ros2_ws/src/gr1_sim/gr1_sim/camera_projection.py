"""Write the simulated static camera's projection (world point -> pixel) for gr1-train
--target-projection: the label of the target locator's map (GR1Config.target_locator).

  python -m gr1_sim.camera_projection out/static_projection.yaml [--width 200 --height 200]

MuJoCo's camera looks along its -z axis with +y up in the image and a vertical field of view
(fovy); pixels are square. The matrix is read from the compiled model, so it follows the scene.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mujoco
import numpy as np

from gr1_sim import model as scene_model


def static_projection(width: int, height: int) -> np.ndarray:
    """(3, 4) world (x, y, z, 1) [m] -> homogeneous pixel (u across, v down) of the static
    camera at width x height."""
    m = scene_model.build_model()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    cam = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, scene_model.STATIC_CAMERA)
    eye, rot = d.cam_xpos[cam], d.cam_xmat[cam].reshape(3, 3)  # columns: camera x, y, z axes
    f = height / 2 / np.tan(np.radians(m.cam_fovy[cam]) / 2)  # px
    # camera frame: x right, y up, looking along -z; pixel: u right, v down, depth -z
    to_pixel = np.array([[f, 0.0, -width / 2], [0.0, -f, -height / 2], [0.0, 0.0, -1.0]])
    world_to_cam = np.c_[rot.T, -rot.T @ eye]  # (3, 4)
    return to_pixel @ world_to_cam


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="YAML file to write (data.target_pixel's format)")
    p.add_argument("--width", type=int, default=200, help="image width, px (sim.yaml's)")
    p.add_argument("--height", type=int, default=200, help="image height, px")
    a = p.parse_args(argv)
    if a.width <= 0 or a.height <= 0:
        p.error(f"--width and --height must be positive, got {a.width} x {a.height}")
    from gr1_core.data.target_pixel import write_projection

    write_projection(a.out, static_projection(a.width, a.height), a.width, a.height)
    print(f"wrote {a.out} ({a.width} x {a.height} static camera)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
