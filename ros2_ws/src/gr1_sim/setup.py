import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "gr1_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml", "README.md"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        # models/ is a link to the repository's top-level models/ folder: the shipped simulator
        # policy, found as package://gr1_sim/models/gr1-sim in every kind of install. Files
        # only: the onnx/ folder a graph backend exports there on first use stays behind.
        (f"share/{PACKAGE}/models/gr1-sim",
         [f for f in glob("models/gr1-sim/*") if os.path.isfile(f)]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    description="MuJoCo Franka Panda tabletop simulator and its ROS 2 bridge for gr1-ros.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-sim=gr1_sim.bridge_node:main",
            "gr1-expert=gr1_sim.expert_node:main",
        ],
    },
)
