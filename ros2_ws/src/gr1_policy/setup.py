from glob import glob

from setuptools import find_packages, setup

PACKAGE = "gr1_policy"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        # launch/ is a link to the repository's top-level launch/ folder.
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ROS 2 adapters of gr1-ros: the lifecycle policy node and its parameter schema.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-policy=gr1_policy.policy_node:main",
            "gr1-gripper-adapter=gr1_policy.gripper_adapter_node:main",
            "gr1-run-instruction=gr1_policy.run_instruction_cli:main",
        ],
    },
)
