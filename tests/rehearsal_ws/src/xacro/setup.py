from setuptools import setup

package_name = "xacro"

setup(
    name=package_name,
    version="0.0.1",
    packages=[package_name],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        ("bin", ["scripts/xacro"]),  # FindExecutable('xacro') searches PATH, as for the real one
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="TEST STAND-IN for xacro (robot rehearsal).",
    license="MIT",
    entry_points={"console_scripts": ["xacro = xacro:main"]},
)
