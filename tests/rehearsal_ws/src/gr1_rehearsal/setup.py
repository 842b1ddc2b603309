from setuptools import setup

package_name = "gr1_rehearsal"

setup(
    name=package_name,
    version="0.0.1",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/config", ["config/sim_rehearsal.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="Robot rehearsal: shared names of the stand-ins (test only).",
    license="MIT",
)
