from setuptools import setup

package_name = "franka_gripper"

setup(
    name=package_name,
    version="0.0.1",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="TEST STAND-IN for franka_gripper (robot rehearsal).",
    license="MIT",
    entry_points={"console_scripts": ["franka_gripper_node = franka_gripper.gripper_node:main"]},
)
