from setuptools import find_packages, setup

PACKAGE = "gr1_data"

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
    description="Episode recorder node and dataset tools of gr1-ros.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-record=gr1_data.recorder_node:main",
            "gr1-dataset=gr1_data.dataset_cli:main",
            "gr1-eval=gr1_data.evaluate:main",
        ],
    },
)
