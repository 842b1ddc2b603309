from setuptools import setup

package_name = "realsense2_camera"

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
    description="TEST STAND-IN for realsense2_camera (robot rehearsal).",
    license="MIT",
    entry_points={"console_scripts": ["realsense2_camera_node = realsense2_camera.node:main"]},
)
