//! VHD (Microsoft Virtual Hard Disk): fixed, dynamic and differencing.
