/*
 * Decodes BondFlow's published values with Apache Avro's own Java implementation, as a consumer following
 * the specification would: BinaryMessageDecoder (single-object encoding) keyed by the CRC-64-AVRO
 * fingerprint of each topic's schema in schemas/avro. It knows only the schema files, never our encoder.
 *
 *   java -cp 'tools/avro/target/lib/*:tools/avro/target/classes' DecodeFrames SCHEMA_DIR IN OUT
 *
 * IN: one frame per line, "topic<TAB>base64(value)". OUT: one JSON object per line, the decoded record with
 * decimals as plain strings, timestamp-micros as ISO-8601 UTC with microseconds and "Z", dates as YYYY-MM-DD,
 * UUIDs as strings, enums as symbols. A frame whose fingerprint is not its topic's schema fails the run.
 */

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public final class DecodeFrames {
    private static final DateTimeFormatter MICROS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    public static void main(String[] args) throws Exception {
        GenericData model = new GenericData();
        model.addLogicalTypeConversion(new Conversions.DecimalConversion());
        model.addLogicalTypeConversion(new Conversions.UUIDConversion());
        model.addLogicalTypeConversion(new TimeConversions.TimestampMicrosConversion());
        model.addLogicalTypeConversion(new TimeConversions.DateConversion());
        Map<String, BinaryMessageDecoder<GenericRecord>> decoders = new HashMap<>();
        try (var files = Files.list(Path.of(args[0]))) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String name = file.getFileName().toString();
                if (!name.endsWith(".avsc")) continue;
                Schema schema = new Schema.Parser().parse(file.toFile());
                decoders.put(name.substring(0, name.length() - 5), new BinaryMessageDecoder<>(model, schema));
            }
        }
        try (BufferedReader in = Files.newBufferedReader(Path.of(args[1]), StandardCharsets.UTF_8);
             PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(args[2]), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isEmpty()) continue;
                String[] parts = line.split("\t", 2);
                BinaryMessageDecoder<GenericRecord> decoder = decoders.get(parts[0]);
                if (decoder == null) throw new IllegalArgumentException("no schema for topic " + parts[0]);
                GenericRecord record = decoder.decode(Base64.getDecoder().decode(parts[1]));
                StringBuilder json = new StringBuilder();
                write(json, record);
                out.println(json);
            }
        }
    }

    private static void write(StringBuilder json, Object value) {
        if (value == null) {
            json.append("null");
        } else if (value instanceof GenericRecord record) {
            json.append('{');
            List<Schema.Field> fields = record.getSchema().getFields();
            for (int i = 0; i < fields.size(); i++) {
                if (i > 0) json.append(',');
                string(json, fields.get(i).name());
                json.append(':');
                write(json, record.get(i));
            }
            json.append('}');
        } else if (value instanceof List<?> items) {
            json.append('[');
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) json.append(',');
                write(json, items.get(i));
            }
            json.append(']');
        } else if (value instanceof BigDecimal number) {
            string(json, number.toPlainString());
        } else if (value instanceof Instant instant) {
            string(json, MICROS.format(instant));
        } else if (value instanceof LocalDate day) {
            string(json, day.toString());
        } else if (value instanceof Number || value instanceof Boolean) {
            json.append(value);
        } else if (value instanceof UUID || value instanceof CharSequence || value instanceof GenericData.EnumSymbol) {
            string(json, value.toString());
        } else {
            throw new IllegalArgumentException("unexpected Avro value " + value.getClass());
        }
    }

    private static void string(StringBuilder json, String text) {
        json.append('"');
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                default -> {
                    if (c < 0x20) json.append(String.format("\\u%04x", (int) c));
                    else json.append(c);
                }
            }
        }
        json.append('"');
    }
}
