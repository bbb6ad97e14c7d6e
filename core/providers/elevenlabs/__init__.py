"""The ElevenLabs cloud voice: a sans-I/O protocol module and thin httpx/websockets shells."""
