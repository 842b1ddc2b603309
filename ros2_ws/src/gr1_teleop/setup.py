from glob import glob

from setuptools import find_packages, setup

PACKAGE = "gr1_teleop"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="End-effector teleoperation of gr1-ros (gamepad, SpaceMouse, keyboard) through "
                "MoveIt Servo behind the policy's safety filter.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-teleop=gr1_teleop.teleop_main:main",
            "gr1-joy-replay=gr1_teleop.joy_replay:main",
        ],
    },
)
