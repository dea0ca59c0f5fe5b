from helpers import login


def test_login_page_renders_in_bokmal(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Logg inn" in response.get_data(as_text=True)


def test_staff_sees_the_start_page(client, factory):
    municipality = factory.municipality()
    email = factory.user(municipality)
    login(client, email)
    response = client.get("/")
    assert response.status_code == 200
    assert "Oversikt" in response.get_data(as_text=True)
