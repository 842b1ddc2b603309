from setuptools import setup

package_name = "moveit_servo"

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
    description="TEST STAND-IN for moveit_servo (robot rehearsal).",
    license="MIT",
    entry_points={"console_scripts": ["servo_node = moveit_servo.servo_node:main"]},
)
