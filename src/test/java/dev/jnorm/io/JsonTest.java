package dev.jnorm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void whatItWritesReadsBackEqual() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "a \"quoted\" \\ path\n\tand\u0001");
        m.put("shape", List.of(2.0, 256.0, 100.0));
        m.put("rows", List.of(Map.of("us", 12.5), Map.of("us", 1e-3)));
        m.put("ok", true);
        m.put("none", null);
        assertEquals(m, Json.parse(Json.write(m)));
    }

    @Test
    void readsPythonsJsonDumps() {
        Object parsed = Json.parse("{\"a\": [1, 2.5e3, -0.25], \"b\": {\"c\": \"\\u00e9\"}, \"d\": false}");
        assertEquals(Map.of("a", List.of(1.0, 2500.0, -0.25), "b", Map.of("c", "é"), "d", false), parsed);
    }

    @Test
    void refusesMalformedText() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1,"));
        assertEquals("JSON: expected '\"' at character 8", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
    }
}
