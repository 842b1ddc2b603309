from setuptools import setup

package_name = "controller_manager"

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
    description="TEST STAND-IN for controller_manager (robot rehearsal).",
    license="MIT",
    entry_points={"console_scripts": [
        "ros2_control_node = controller_manager.hardware:main",
        "spawner = controller_manager.spawner:run",
    ]},
)
