from setuptools import find_packages, setup

PACKAGE = "gr1_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="ROS-free core of gr1-ros: GR-1 model, checkpoints, runtime, safety filter, data.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-convert=gr1_core.convert.cli:main",
            "gr1-init=gr1_core.checkpoint_cli:main",
            "gr1-export=gr1_core.runtime.export:main",
            "gr1-train=gr1_core.train.cli:main",
            "gr1-replay=gr1_core.data.replay_cli:main",
        ],
    },
)
