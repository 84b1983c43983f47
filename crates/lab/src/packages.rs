//! The Debian packages the lab needs, and their installation on first use
//! (`apt-get install -y --no-install-recommends`), announced on stderr.

use crate::error::{LabError, Result};
use std::path::Path;

/// A package and a file whose presence shows it is installed.
#[derive(Clone, Copy, Debug)]
pub struct Package {
    /// The Debian package.
    pub name: &'static str,
    /// A file it installs.
    pub probe: &'static str,
}

/// What `blackout lab up` needs.
pub const REQUIRED: &[Package] = &[
    Package {
        name: "iproute2",
        probe: "/usr/sbin/ip",
    },
    Package {
        name: "bird2",
        probe: "/usr/sbin/bird",
    },
    Package {
        name: "frr",
        probe: "/usr/lib/frr/bgpd",
    },
    Package {
        name: "frr-rpki-rtrlib",
        probe: "/usr/lib/x86_64-linux-gnu/frr/modules/bgpd_rpki.so",
    },
    Package {
        name: "nsd",
        probe: "/usr/sbin/nsd",
    },
    Package {
        name: "nginx",
        probe: "/usr/sbin/nginx",
    },
    Package {
        name: "python3-aiosmtpd",
        probe: "/usr/lib/python3/dist-packages/aiosmtpd",
    },
    Package {
        name: "nftables",
        probe: "/usr/sbin/nft",
    },
    Package {
        name: "fping",
        probe: "/usr/bin/fping",
    },
    Package {
        name: "traceroute",
        probe: "/usr/sbin/traceroute",
    },
    Package {
        name: "iputils-ping",
        probe: "/usr/bin/ping",
    },
    Package {
        name: "util-linux",
        probe: "/usr/bin/setsid",
    },
];

/// The extra tools the end-to-end test runs from the vantage point.
pub const TEST_TOOLS: &[Package] = &[
    Package {
        name: "bind9-dnsutils",
        probe: "/usr/bin/dig",
    },
    Package {
        name: "curl",
        probe: "/usr/bin/curl",
    },
];

fn probe_present(probe: &str) -> bool {
    // The rtrlib module sits under the multiarch directory; accept any arch.
    if probe.contains("x86_64-linux-gnu") {
        let name = probe.rsplit('/').next().unwrap_or(probe);
        return [
            "x86_64-linux-gnu",
            "aarch64-linux-gnu",
            "arm-linux-gnueabihf",
            "i386-linux-gnu",
        ]
        .iter()
        .any(|arch| Path::new(&format!("/usr/lib/{arch}/frr/modules/{name}")).exists());
    }
    Path::new(probe).exists()
}

/// The packages of `wanted` that are missing.
pub fn missing(wanted: &[Package]) -> Vec<&'static str> {
    wanted
        .iter()
        .filter(|p| !probe_present(p.probe))
        .map(|p| p.name)
        .collect()
}

/// Installs the missing packages of `wanted`, saying so through `say`. Returns
/// what was installed.
pub fn ensure(wanted: &[Package], say: &dyn Fn(&str)) -> Result<Vec<&'static str>> {
    let missing = missing(wanted);
    if missing.is_empty() {
        return Ok(missing);
    }
    let list = missing.join(" ");
    say(&format!("installing Debian packages the lab needs: {list}"));
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    let install = || {
        std::process::Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .output()
    };
    let mut result = install();
    if !matches!(&result, Ok(out) if out.status.success()) {
        say("apt-get install failed; running apt-get update and trying again");
        let _ = crate::exec::run("apt-get", &["update"]);
        result = install();
    }
    match result {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(LabError::Packages {
                packages: list,
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Err(error) => {
            return Err(LabError::Packages {
                packages: list,
                message: error.to_string(),
            });
        }
    }
    let still = self::missing(wanted);
    if !still.is_empty() {
        return Err(LabError::Packages {
            packages: still.join(" "),
            message: "still missing after apt-get install".into(),
        });
    }
    say(&format!("installed: {list}"));
    Ok(missing)
}
