import asyncio

from collector.health import Health


def test_readyz_says_draining_once_shutdown_begins():
    health = Health()

    async def fine():
        return None

    async def broken():
        raise OSError("disk gone")

    health.add_check("store", fine)
    assert asyncio.run(health.problems()) == {}
    health.add_check("log writable", broken)
    assert asyncio.run(health.problems()) == {"log writable": "disk gone"}
    health.start_draining()
    assert asyncio.run(health.problems()) == {"shutdown": "draining", "log writable": "disk gone"}
