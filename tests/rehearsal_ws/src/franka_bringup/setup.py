from setuptools import setup

package_name = "franka_bringup"

setup(
    name=package_name,
    version="0.0.1",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", ["launch/franka.launch.py"]),
        (f"share/{package_name}/urdf", ["urdf/franka_arm.urdf.xacro"]),
        (f"share/{package_name}/config", ["config/controllers.yaml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="TEST STAND-IN for franka_bringup (robot rehearsal).",
    license="MIT",
)
