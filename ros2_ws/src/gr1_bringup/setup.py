from setuptools import find_packages, setup

PACKAGE = "gr1_bringup"

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
    description="Python launcher for gr1-ros graphs and the simulator demo.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "gr1-demo=gr1_bringup.demo:main",
        ],
    },
)
