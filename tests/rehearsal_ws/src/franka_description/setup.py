from setuptools import setup

package_name = "franka_description"

setup(
    name=package_name,
    version="0.0.1",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/robots/fr3", ["robots/fr3/fr3.srdf.xacro"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="TEST STAND-IN for franka_description (robot rehearsal).",
    license="MIT",
)
